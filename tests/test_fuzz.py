"""Fuzzing: the message models with hypothesis, and every endpoint with thousands of bad frames.

Bad input must get an error or a clean close (1002, 1003, 1007, 1008, 1009), never an
unhandled exception (1011), and never cost a healthy client a message.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import struct
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from websockets.asyncio.client import connect as aconnect

from rtlab import LabServer
from rtlab.frames import frame, frame_header, handshake_request
from rtlab.routes import apps, auth, basic, pooling, rooms
from rtlab.wsio import Inbound

from .targets import Target, ws_targets

# -- the models ---------------------------------------------------------------------------------
INBOUNDS = {f"{mod.__name__.rsplit('.', 1)[-1]}.{name}": obj
            for mod in (apps, auth, basic, pooling, rooms) for name, obj in vars(mod).items()
            if isinstance(obj, Inbound)}
TAGS = ["ping", "message", "private", "typing", "edit", "auth", "pong", "", "PING", "message\x00"]

json_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                | st.text(max_size=50))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
# Objects that look like messages: a known (or near) tag, the fields the models use, any values.
FIELDS = ["type", "message", "to", "token", "version", "op", "content", "pos", "delete", "insert", "cart"]
messageish = st.fixed_dictionaries({"type": st.sampled_from(TAGS) | json_scalars},
                                   optional={k: json_values for k in FIELDS[1:]})


def test_every_endpoint_model_is_fuzzed():
    assert len(INBOUNDS) >= 8, sorted(INBOUNDS)


def _parse(inbound: Inbound, raw: str | bytes):
    try:
        return inbound.parse(raw)
    except ValueError as exc:
        assert str(exc).strip(), "an error must say what was wrong"
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(INBOUNDS)), value=messageish | json_values)
def test_any_json_parses_to_a_model_or_a_one_line_error(name, value):
    inbound = INBOUNDS[name]
    model = _parse(inbound, json.dumps(value))
    if model is not None and isinstance(model, BaseModel):
        # What was accepted survives a round trip through its own JSON.
        assert inbound.parse(model.model_dump_json(by_alias=True)) == model


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(INBOUNDS)), raw=st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_or_text_parse_to_a_model_or_a_one_line_error(name, raw):
    _parse(INBOUNDS[name], raw)


# -- the socket-level fuzzer --------------------------------------------------------------------
def garbage_text(rng: random.Random) -> bytes:
    """A text frame's payload: valid UTF-8, invalid as a message of any endpoint."""
    choices = [
        lambda: b"{" * rng.randint(1, 3000),
        lambda: b"[" * 5000 + b"]" * 5000,
        lambda: json.dumps(rng.choice([None, 1, "x", [], [1, 2], {"type": None}, {"type": 5},
                                       {"type": "nope"}, {"type": "message"}, {"type": "message", "message": []},
                                       {"type": "edit", "version": -1, "op": {"pos": "x"}},
                                       {"type": "edit", "version": 10**30, "op": {"pos": 10**12, "delete": -5}},
                                       {"to": 1, "message": {"a": 1}}, {"message": None}])).encode(),
        lambda: '{"type": "message", "message": "\\ud800"}'.encode(),
        lambda: json.dumps({"type": "message", "message": "x" * rng.randint(16_001, 40_000)}).encode(),
        lambda: bytes(rng.randrange(0x20, 0x7F) for _ in range(rng.randint(0, 300))),
        lambda: "".join(chr(rng.choice([rng.randrange(0x20, 0xD7FF), rng.randrange(0xE000, 0x10FFFF)]))
                        for _ in range(rng.randint(1, 100))).encode(),
        lambda: b'{"type": "ping"}' + b" " * rng.randint(0, 5) + b"trailing",
    ]
    return rng.choice(choices)()


def soft_frame(rng: random.Random) -> bytes:
    """Bad content the server must answer and survive, the connection staying open."""
    return frame(0x1, garbage_text(rng))


# Frames after which the server must close (or the client gives up): (what, frame bytes).
def hard_frames(limit: int) -> list[tuple[str, bytes]]:
    return [
        ("invalid UTF-8", frame(0x1, b'{"type": "ping", "x": "\xff\xfe"}')),
        ("binary", frame(0x2, os.urandom(64))),
        ("reserved bits", frame(0x1, b'{"type":"ping"}', rsv=0b100)),
        ("unknown opcode", frame(0x3, b"??")),
        ("unmasked", frame(0x1, b'{"type":"ping"}', mask=False)),
        ("lone continuation", frame(0x0, b"tail")),
        ("fragmented ping", frame(0x9, b"p", fin=False)),
        ("ping over 125 bytes", frame(0x9, b"p" * 200)),
        ("declared over the limit", frame(0x1, b"", declared=limit * 4)[:14]),
        ("message over the limit", frame(0x1, b"x" * (limit + 10))),
        ("fragments over the limit", frame(0x1, b"x" * (limit // 2 + 1), fin=False)
         + frame(0x0, b"y" * (limit // 2 + 1), fin=False) + frame(0x0, b"z")),
        ("close with a bad code", frame(0x8, struct.pack("!H", 999))),
        ("close", frame(0x8, struct.pack("!H", 1000) + b"bye")),
    ]


@dataclass
class Tally:
    frames: int = 0
    connections: int = 0
    closes: dict = field(default_factory=dict)  # close code -> count
    bad: list = field(default_factory=list)  # what went wrong, for the assertion message


async def read_until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int | str | None:
    """Read server frames until EOF; the close code, or None if none came. Pings go unanswered;
    a close frame is answered, as a client should, so that the server can end the connection.

    A server that closes while our frame is still arriving leaves unread bytes behind, and
    TCP answers those with a reset, which may overtake its close frame: that is "reset".
    """
    code = None
    data = b""
    while True:
        try:
            chunk = await reader.read(65536)
        except ConnectionError:  # reset, or a broken pipe seen on the way in
            return code or "reset"
        if not chunk:
            break
        data += chunk
        while (header := frame_header(data)) is not None:
            opcode, head, n = header
            if opcode == 0x8 and code is None:
                code = struct.unpack("!H", data[head:head + 2])[0] if n >= 2 else 1005
                with contextlib.suppress(ConnectionError):
                    writer.write(frame(0x8, data[head:head + 2]))
            data = data[head + n:]
    return code


async def fuzz_connection(port: int, target: Target, frames: list[bytes], tally: Tally, what: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = target.url.split(f"127.0.0.1:{port}", 1)[1]
    headers = "".join(f"{k}: {v}\r\n" for k, v in target.kwargs.get("additional_headers", {}).items())
    if "subprotocols" in target.kwargs:
        headers += f"Sec-WebSocket-Protocol: {', '.join(target.kwargs['subprotocols'])}\r\n"
    writer.write(handshake_request("127.0.0.1", port, path, headers=headers))
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), (target.route, head[:80])
    tally.connections += 1
    if target.first:
        writer.write(frame(0x1, target.first.encode()))
    closing = asyncio.create_task(read_until_closed(reader, writer))
    try:
        for f in frames:
            if closing.done():
                break
            writer.write(f)
            tally.frames += 1
            await writer.drain()
    except ConnectionError:
        pass  # the server closed while we wrote: what the reader saw tells how
    try:
        code = await asyncio.wait_for(closing, 20)
    except TimeoutError:
        tally.bad.append((target.route, what, "no close within 20 s"))
        return
    finally:
        writer.close()
    tally.closes[code] = tally.closes.get(code, 0) + 1
    if code is None or code == 1011:
        tally.bad.append((target.route, what, code))


async def fuzz_endpoint(port: int, target: Target, limit: int, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    for what, last in hard_frames(limit):
        # Then a close of our own: a connection that survived the last frame ends cleanly too.
        bye = frame(0x8, struct.pack("!H", 1000))
        await fuzz_connection(port, target, [soft_frame(rng) for _ in range(15)] + [last, bye], tally, what)


async def healthy_chat(lab, done: asyncio.Event, most: int = 3000) -> tuple[int, dict[str, list[str]]]:
    """Two users chatting until the fuzzing is done; how many each sent, and what each received.

    Each user's last message is "end": a room delivers each sender's messages in order, so once
    a listener has both ends, it has everything that will ever arrive.
    """
    url = lab.ws_url + "/ws/chat/calm?username="
    async with aconnect(url + "ann", max_queue=None) as ann, aconnect(url + "bob", max_queue=None) as bob:
        got = {"ann": [], "bob": []}

        async def listen(name, ws):
            ends = 0
            while ends < 2:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if msg["type"] != "message":
                    continue
                if msg["message"] == "end":
                    ends += 1
                else:
                    got[name].append(f"{msg['username']}:{msg['message']}")

        listeners = [asyncio.create_task(listen("ann", ann)), asyncio.create_task(listen("bob", bob))]
        sent = 0
        while not done.is_set() and sent < most:
            await ann.send(json.dumps({"type": "message", "message": f"a{sent}"}))
            await bob.send(json.dumps({"type": "message", "message": f"b{sent}"}))
            sent += 1
            await asyncio.sleep(0.005)  # pacing, so that the chat spans the whole fuzzing
        for ws in (ann, bob):
            await ws.send(json.dumps({"type": "message", "message": "end"}))
        await asyncio.gather(*listeners)
        return sent, got


@pytest.mark.timeout(300)
async def test_thousands_of_bad_frames_to_every_endpoint_while_a_chat_runs():
    with LabServer(rate_limit=0) as lab:  # the rate limit would end the fuzzing early; tested apart
        limit = lab.settings.max_message_bytes
        targets = ws_targets(lab)
        tally = Tally()

        done = asyncio.Event()

        async def fuzz_all():
            try:
                for seed, target in enumerate(targets):
                    await fuzz_endpoint(lab.port, target, limit, seed, tally)
            finally:
                done.set()

        (sent, chat), _ = await asyncio.gather(healthy_chat(lab, done), fuzz_all())
        assert tally.frames >= 3000, tally
        assert tally.bad == [], tally.bad
        print("fuzzing:", tally.frames, "frames,", tally.connections, "connections; closes:", tally.closes,
              "; chat messages sent meanwhile:", sent)
        assert 1011 not in tally.closes and None not in tally.closes, tally.closes
        assert sent >= 100, sent  # the chat ran alongside the fuzzing
        expected = {f"a{i}" for i in range(sent)} | {f"b{i}" for i in range(sent)}
        for name, seen in chat.items():
            assert {m.split(":", 1)[1] for m in seen} == expected, f"{name} lost messages"
            for who in ("ann", "bob"):  # each sender's messages arrive in the order sent
                mine = [int(m.split(":", 1)[1][1:]) for m in seen if m.startswith(who)]
                assert mine == sorted(mine)
        log = lab.logs(last=5000)
        first = min((i for i in (log.find("Exception in ASGI application"), log.find("Traceback")) if i >= 0),
                    default=-1)
        assert first < 0, "the server raised:\n" + log[first:first + 6000]
