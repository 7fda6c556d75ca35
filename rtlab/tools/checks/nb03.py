"""Checks of notebook 03 (messaging): bad input answered, not a crash; a countdown of binary messages."""
from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from . import NotYet, exercise, expect_true

MARKER = json.dumps({"type": "message", "message": "marker"})
MARKER_ACK = ("text", {"type": "ack", "message": "marker"})


def _item(message) -> tuple:
    if isinstance(message, bytes):
        return ("binary", message)
    try:
        return ("text", json.loads(message))
    except ValueError:
        return ("text", message)


def _closed(closed: ConnectionClosed) -> tuple:
    return ("close", closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else ("close", "no close frame (1006)")


def show(item: tuple) -> str:
    """An item in words: binary b'\\x03', text {...}, close 4000 'reason', HTTP 403."""
    kind, *rest = item
    words = [p if kind == "close" and isinstance(p, str) and len(rest) == 1 else repr(p) for p in rest]
    return " ".join([kind, *words])


async def everything(url: str) -> list[tuple]:
    """Every message until the connection ends, and how it ended; or the refused handshake."""
    seen = []
    try:
        async with asyncio.timeout(10), connect(url) as ws:
            try:
                while True:
                    seen.append(_item(await ws.recv()))
            except ConnectionClosed as closed:
                seen.append(_closed(closed))
    except InvalidStatus as refused:
        seen.append(("HTTP", refused.response.status_code))
    except TimeoutError:
        seen.append(("nothing more within 10 s",))
    return seen


def expect_items(what: str, got: list[tuple], expected: list[tuple]) -> None:
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            raise NotYet(f"{what}: item {i + 1}: expected {show(e)}, got {show(g)}")
    if len(got) != len(expected):
        extra = got[len(expected)] if len(got) > len(expected) else expected[len(got)]
        kind = "not expected" if len(got) > len(expected) else "missing"
        raise NotYet(f"{what}: {len(got)} items, {len(expected)} expected; the first {kind}: {show(extra)}")


# -- 1. tolerant-json -------------------------------------------------------------------------------
BAD_INPUT = {
    '{"type": "ping"': "malformed JSON",
    "[1, 2]": "not an object: an array",
    "42": "not an object: a number",
    '"ping"': "not an object: a string",
    "null": "not an object: null",
    '{"message": "hi"}': "no type",
    '{"type": "launch"}': "an unknown type",
    '{"type": 42}': "a type that is not a text",
    '{"type": "message"}': "a message without its message field",
}


async def _reply(ws, sent: str) -> tuple:
    """The reply to ``sent`` (the marker sent right after it tells "no reply" from "a slow one")."""
    await ws.send(sent)
    try:
        await ws.send(MARKER)
        reply = _item(await ws.recv())
    except ConnectionClosed as closed:
        return _closed(closed)
    if reply == MARKER_ACK:
        return ("no reply (the marker's ack came first)",)
    try:
        ack = _item(await ws.recv())
    except ConnectionClosed as closed:
        raise NotYet(f"after the reply to {sent!r}, the connection ended ({show(_closed(closed))}): it must stay "
                     "open for the next message") from None
    if ack != MARKER_ACK:
        raise NotYet(f"after the reply to {sent!r}, the ack of the next message: expected {show(MARKER_ACK)}, "
                     f"got {show(ack)} (one reply per message, in order)")
    return reply


@exercise("tolerant-json", "bad input is not a crash",
          hint="every text that is not a well-formed object with a known type gets one error reply, and the "
               "connection stays open for the next message; only binary closes, with 1003 and the reason "
               "('rtlab's /ws/json: bad input is not an internal error', and the table of what arrives in "
               "'Text, JSON and binary')",
          timeout=30)
async def tolerant_json(nb):
    from rtlab import serve

    tolerant = serve(nb.make_tolerant_app(), name="check: tolerant-json")
    try:
        async with asyncio.timeout(20), connect(tolerant.ws_url + "/ws/json") as ws:
            for bad, what in BAD_INPUT.items():
                reply = await _reply(ws, bad)
                ok = (reply[0] == "text" and isinstance(reply[1], dict) and reply[1].get("type") == "error"
                      and isinstance(reply[1].get("detail"), str) and reply[1]["detail"] != "")
                expect_true(f"the reply to {bad!r} ({what}): an error with a detail", ok, f"got {show(reply)}")
            text = 'still "here"? ☃'
            reply = await _reply(ws, json.dumps({"type": "message", "message": text}))
            expect_items("then a good message", [reply], [("text", {"type": "ack", "message": text})])
            reply = await _reply(ws, '{"type": "ping"}')
            expect_items("then a ping", [reply], [("text", {"type": "pong"})])
        async with asyncio.timeout(20), connect(tolerant.ws_url + "/ws/json") as ws:
            seen = []
            try:
                await ws.send('{"type": "ping"}')
                await ws.send(b"\x00\x01")
                await ws.send(MARKER)  # acked only if the connection stayed open
                while not seen or seen[-1] != MARKER_ACK:
                    seen.append(_item(await ws.recv()))
            except ConnectionClosed as closed:
                seen.append(_closed(closed))
        expect_items("a ping, then a binary message", seen,
                     [("text", {"type": "pong"}), ("close", 1003, "binary not accepted")])
    finally:
        tolerant.stop()


# -- 2. countdown -----------------------------------------------------------------------------------
def _countdown(n: int) -> list[tuple]:
    return [("binary", bytes([i])) for i in range(n, 0, -1)] + [
        ("text", {"type": "liftoff"}), ("close", 4000, "countdown over")]


@exercise("countdown", "a countdown with a code of your own",
          hint="N binary messages of one byte whose value is the count, N down to 1; then the liftoff as a text "
               "message of JSON; then the close with 4000 and the reason; an n outside 1 to 10 refused at the "
               "handshake ('Text, JSON and binary', and notebook 02's 'Constraints FastAPI checks for you')",
          timeout=30)
async def countdown(nb):
    from rtlab import serve

    server = serve(nb.make_countdown_app(), name="check: countdown")
    try:
        url = server.ws_url + "/ws/countdown"
        for n in (3, 1, 10):
            expect_items(f"what n={n} sends", await everything(f"{url}?n={n}"), _countdown(n))
        for query in ("?n=0", "?n=11", "?n=-1", "?n=three", ""):
            expect_items(f"what {'no n' if not query else query[1:]} gets", await everything(url + query),
                         [("HTTP", 403)])
    finally:
        server.stop()
