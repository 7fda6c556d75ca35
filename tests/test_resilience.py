"""What survives: rate limits, half-open connections, and a shutdown that closes everything cleanly."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time

import httpx
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rtlab import LabServer, wsio

from .helpers import ask, closed_with, raw_handshake, recv_json, recv_until, wait_until
from .targets import ws_targets


# -- per-connection rate limit -------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_and_forgives_a_client_that_slows_down(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(wsio.time, "monotonic", clock)
    bucket = wsio.RateLimit(rate=2, burst=4)
    assert [bucket.take() for _ in range(5)] == [True] * 4 + [False]
    bucket.warned = True
    clock.now += 0.5  # one message's worth at 2/s
    assert bucket.take() and not bucket.take()
    assert bucket.warned, "not forgiven while still at the limit"
    clock.now += 2.0  # the bucket is full again: a clean record
    assert bucket.take() and not bucket.warned


def test_past_the_rate_an_error_then_1008_and_other_clients_are_unaffected():
    with LabServer(rate_limit=0.01, rate_limit_burst=3) as lab:  # a token comes back in 100 s: none does here
        with connect(lab.ws_url + "/ws/json") as spammer, connect(lab.ws_url + "/ws/json") as calm:
            for _ in range(3):
                assert ask(spammer, {"type": "ping"}) == {"type": "pong"}
            warning = ask(spammer, {"type": "ping"})
            assert warning["type"] == "error" and "rate limit" in warning["detail"], warning
            spammer.send(json.dumps({"type": "ping"}))
            assert closed_with(spammer) == (1008, "rate limit exceeded")
            assert ask(calm, {"type": "message", "message": "still fine"}) == {"type": "ack", "message": "still fine"}


def test_a_spammer_in_a_room_reaches_the_room_only_within_the_limit():
    with LabServer(rate_limit=0.01, rate_limit_burst=5) as lab:  # a token comes back in 100 s: none does here
        with connect(lab.ws_url + "/ws/chat/r?username=calm") as calm:
            recv_until(calm, lambda m: m["type"] == "system")
            with connect(lab.ws_url + "/ws/chat/r?username=spam") as spam:
                recv_until(calm, lambda m: m.get("message") == "spam joined the room")
                with contextlib.suppress(ConnectionClosed):  # the close may overtake the last sends
                    for i in range(10):
                        spam.send(json.dumps({"type": "message", "message": f"m{i}"}))
                seen = []
                while (m := recv_json(calm))["type"] == "message":
                    seen.append(m["message"])
                assert seen == [f"m{i}" for i in range(5)]
                assert m["message"] == "spam left the room", m
                own = [recv_json(spam) for _ in range(8)]  # history, join notice, 5 echoes, the warning
                assert own[-1]["type"] == "error" and "rate limit" in own[-1]["detail"], own
                assert closed_with(spam) == (1008, "rate limit exceeded")
            calm.send(json.dumps({"type": "message", "message": "quiet again"}))
            assert recv_json(calm)["message"] == "quiet again"


def test_the_rate_limit_can_be_turned_off():
    n = 3000  # with any limit on (a burst of 1 here), this flood would be cut off at once
    with LabServer(rate_limit=0, rate_limit_burst=1) as lab, connect(lab.ws_url + "/ws/echo", max_queue=None) as ws:
        for i in range(n):
            ws.send(str(i))
        assert [ws.recv(timeout=5) for _ in range(n)] == [f"Echo: {i}" for i in range(n)]


# -- half-open connections ----------------------------------------------------------------------
INTERVAL, TIMEOUT = 0.3, 0.3


def test_half_open_connections_are_removed_with_their_presence_and_pool_slots():
    with LabServer(ping_interval=INTERVAL, ping_timeout=TIMEOUT, max_connections_per_user=2) as lab:
        http = httpx.Client(base_url=lab.url, timeout=5)
        # Sockets that complete the handshake, then go silent: they never answer a ping.
        ghosts = [raw_handshake(lab.port, "/ws/chat/hall?username=ghost"),
                  raw_handshake(lab.port, "/ws/pooled/ghost"), raw_handshake(lab.port, "/ws/pooled/ghost")]
        assert http.get("/rooms/hall").json()["users"] == ["ghost"]
        with connect(lab.ws_url + "/ws/pooled/ghost") as third:
            assert closed_with(third) == (1008, "Max connections reached")
        start = time.monotonic()
        wait_until(lambda: not http.get("/user/ghost/online").json()["online"], timeout=INTERVAL + TIMEOUT + 5,
                   what="the half-open connections to be removed")
        # Seconds, not the minutes TCP would take: the pings did it (the slack is for a loaded machine).
        assert time.monotonic() - start < INTERVAL + TIMEOUT + 3.0
        assert http.get("/rooms/hall").json() == {"room": "hall", "users": [], "count": 0}
        with connect(lab.ws_url + "/ws/pooled/ghost") as a, connect(lab.ws_url + "/ws/pooled/ghost") as b:
            assert recv_json(a)["type"] == recv_json(b)["type"] == "connected"  # both slots were freed
        for sock in ghosts:
            sock.close()
        http.close()


# -- graceful shutdown --------------------------------------------------------------------------
SSE_PATHS = ["/sse?interval=0.05", "/sse/announcements", "/sse/notifications/u1", "/sse/stock/ACME?interval=0.05"]


async def _read_stream(url: str, events: list) -> None:
    async with httpx.AsyncClient(timeout=10) as client, aconnect_sse(client, "GET", url) as source:
        async for event in source.aiter_sse():  # an incomplete chunked body raises here
            events.append(event)


async def test_shutdown_closes_every_websocket_with_a_close_frame_and_ends_every_stream():
    lab = LabServer().start()
    try:
        sockets = []
        for target in ws_targets(lab):
            ws = await aconnect(target.url, max_queue=None, open_timeout=5, **target.kwargs)
            if target.first:
                await ws.send(target.first)
            sockets.append((target.route, ws))
        streams = {path: [] for path in SSE_PATHS}
        readers = [asyncio.create_task(_read_stream(lab.url + p, ev)) for p, ev in streams.items()]
        await asyncio.to_thread(wait_until, lambda: len(lab.services.subscriptions) >= 2, 5, "subscriptions")
        await asyncio.to_thread(lab.stop)
        codes = {}
        for route, ws in sockets:
            await asyncio.wait_for(ws.wait_closed(), 10)
            rcvd = ws.protocol.close_rcvd
            codes[route] = rcvd.code if rcvd else "dropped without a close frame"
        assert {r: c for r, c in codes.items() if c not in (1001, 1012)} == {}
        done, pending = await asyncio.wait(readers, timeout=10)
        assert not pending
        for task in done:
            task.result()  # each stream ended with a complete body, not an error
        assert streams["/sse?interval=0.05"][0].data == "Message 1"
    finally:
        lab.stop()
