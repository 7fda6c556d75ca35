"""The seams of the package: one session lifecycle, the guarded framework internals, no task leak."""
from __future__ import annotations

import asyncio
import json

import pytest
from websockets.sync.client import connect

from rtlab import LabServer, internals
from rtlab.server import uvicorn_config

from .helpers import closed_with, recv_json, recv_until, wait_until


def on_server_loop(lab, coro_fn, timeout: float = 5.0):
    """Run ``coro_fn()`` on the server's own event loop; its result."""
    return asyncio.run_coroutine_threadsafe(coro_fn(), lab.services.loop).result(timeout)


class Recorder:
    """The real broker's presence and fan-out, with each lifecycle call written down in order."""

    def __init__(self, broker, events: list[str]) -> None:
        self._broker, self.events = broker, events
        self.presence = RecordedPresence(broker.presence, events)
        self.fanout = RecordedFanOut(broker.fanout, events)

    def __getattr__(self, name):
        return getattr(self._broker, name)


class RecordedPresence:
    def __init__(self, presence, events: list[str]) -> None:
        self._presence, self.events = presence, events

    def __getattr__(self, name):
        return getattr(self._presence, name)

    async def pool_acquire(self, key, limit):
        self.events.append("limit")
        return await self._presence.pool_acquire(key, limit)

    async def connected(self, conn):
        self.events.append("register")
        await self._presence.connected(conn)

    async def entered(self, conn, groups):
        self.events.append("presence")
        await self._presence.entered(conn, groups)

    async def left(self, conn):
        self.events.append(f"presence out (in hub: {conn in conn.hub.connections})")
        await self._presence.left(conn)

    async def pool_release(self, key):
        self.events.append("release")
        await self._presence.pool_release(key)


class RecordedFanOut:
    def __init__(self, fanout, events: list[str]) -> None:
        self._fanout, self.events = fanout, events

    def __getattr__(self, name):
        return getattr(self._fanout, name)

    async def publish(self, group, payload, exclude=None):
        if isinstance(payload, dict) and payload.get("type") in ("user_joined", "user_left"):
            self.events.append(f"announce {payload['type']} size={payload['room_size']}")
        await self._fanout.publish(group, payload, exclude)


def test_the_session_lifecycle_runs_in_its_one_order(lab):
    events: list[str] = []
    lab.services.broker = Recorder(lab.services.broker, events)
    with connect(f"{lab.ws_url}/ws/room/r?username=stay") as stay:
        with connect(f"{lab.ws_url}/ws/room/r?username=visit"):
            recv_until(stay, lambda m: m == {"type": "user_joined", "username": "visit", "room_size": 2})
        recv_until(stay, lambda m: m == {"type": "user_left", "username": "visit", "room_size": 1})
    wait_until(lambda: events.count("presence out (in hub: False)") == 2, what="both sessions ended")
    visit = events[3:]  # the visitor's part follows the first session's join
    assert events[:3] == ["register", "presence", "announce user_joined size=1"]
    assert visit[:3] == ["register", "presence", "announce user_joined size=2"]
    assert visit[3:5] == ["presence out (in hub: False)", "announce user_left size=1"]


def test_the_pool_slot_is_taken_first_and_given_back_last(lab):
    events: list[str] = []
    lab.services.broker = Recorder(lab.services.broker, events)
    with connect(f"{lab.ws_url}/ws/pooled/pam") as ws:
        assert recv_json(ws)["type"] == "connected"
    wait_until(lambda: "release" in events, what="the slot released")
    assert events == ["limit", "register", "presence", "presence out (in hub: False)", "release"]


class BrokenHistory:
    """The real broker, whose history read fails (a store that went wrong mid-call)."""

    def __init__(self, broker) -> None:
        self._broker = broker
        self.streams = BrokenStreams(broker.streams)

    def __getattr__(self, name):
        return getattr(self._broker, name)


class BrokenStreams:
    def __init__(self, streams) -> None:
        self._streams = streams

    def __getattr__(self, name):
        return getattr(self._streams, name)

    async def recover(self, room, since):
        raise RuntimeError("the history store failed")


def test_a_fault_in_an_endpoint_closes_that_connection_with_1011_and_logs_it(lab):
    lab.services.broker = BrokenHistory(lab.services.broker)
    with connect(f"{lab.ws_url}/ws/room/r?username=stay") as stay:
        with connect(f"{lab.ws_url}/ws/chat/c?username=ann") as ann:
            assert closed_with(ann) == (1011, "Internal error")  # a close frame, not a cut (1006)
        stay.send(json.dumps({"message": "still here"}))
        assert recv_until(stay, lambda m: m.get("type") == "message")["message"] == "still here"
    wait_until(lambda: any("RuntimeError: the history store failed" in e for e in lab.errors()),
               what="the traceback in the server's errors")


def test_the_fast_path_and_the_protocol_fix_are_active_on_the_supported_versions(lab):
    assert internals.SUPPORT.protocol_fix and internals.SUPPORT.fast_path, internals.SUPPORT.why_not
    assert uvicorn_config(lab.app, lab.settings).ws is internals.LabWebSocketProtocol
    with connect(f"{lab.ws_url}/ws/notifications/fay") as ws:
        recv_json(ws)
        (conn,) = lab.services.hub.connections
        assert isinstance(conn._proto, internals.LabWebSocketProtocol)  # frames go straight to the transport


def _announce_and_read(lab) -> object:
    """Subscribe to /sse/announcements, announce once, read it; the server's subscription."""
    import httpx
    from httpx_sse import connect_sse

    with httpx.Client(base_url=lab.url, timeout=10) as client, \
            connect_sse(client, "GET", "/sse/announcements", params={}) as source:
        events = source.iter_sse()
        wait_until(lambda: lab.services.announcements.subscribers, what="the subscription")
        (sub,) = lab.services.announcements.subscribers
        httpx.post(lab.url + "/announce", params={"message": "to all"}, timeout=10)
        assert json.loads(next(events).data)["message"] == "to all"
        return sub


def test_sse_fan_out_writes_straight_to_the_socket_on_the_supported_versions(lab):
    assert internals.SUPPORT.http_fast_path
    assert _announce_and_read(lab).direct is not None


def test_with_the_internals_forced_off_the_public_api_serves_the_same(monkeypatch):
    monkeypatch.setattr(internals, "SUPPORT", internals.Support(True, True))
    internals.SUPPORT.disable()
    monkeypatch.setattr(internals, "_warned", False)
    with LabServer() as lab:
        assert uvicorn_config(lab.app, lab.settings).ws == "websockets-sansio"
        with connect(f"{lab.ws_url}/ws/chat/r?username=ann") as ann, \
                connect(f"{lab.ws_url}/ws/chat/r?username=bob") as bob:
            recv_json(ann)
            (conn, *_) = lab.services.hub.connections
            assert conn._proto is None
            ann.send(json.dumps({"type": "message", "message": "public API"}))
            assert recv_until(bob, lambda m: m["type"] == "message")["message"] == "public API"
            recv_until(ann, lambda m: m["type"] == "message")
            ann.send(b"\x00")  # binary on a JSON endpoint still closes with 1003
            assert closed_with(ann)[0] == 1003
        assert _announce_and_read(lab).direct is None  # the ASGI send, every time
        assert "framework internals unavailable (disabled)" in lab.logs()


def test_a_write_fault_that_is_not_the_peers_is_logged_not_swallowed(lab, monkeypatch):
    def broken(proto, data):
        raise AttributeError("a renamed attribute")

    monkeypatch.setattr(internals, "write_now", broken)
    with connect(f"{lab.ws_url}/ws/notifications/wes") as ws:
        with pytest.raises(Exception):
            ws.recv(timeout=5)  # the connection is dropped...
    wait_until(lambda: "AttributeError: a renamed attribute" in lab.logs(), what="the fault in the log")


def test_a_stream_keeps_a_constant_number_of_tasks(lab):
    """/ws/stocks at 100 ticks a second: a waiter per tick used to pile up, never cancelled."""
    async def count() -> int:
        return len(asyncio.all_tasks())

    with connect(f"{lab.ws_url}/ws/stocks?interval=0.01") as ws:
        for _ in range(10):
            recv_json(ws)
        early = on_server_loop(lab, count)
        for _ in range(200):
            recv_json(ws)
        late = on_server_loop(lab, count)
    assert late == early, (early, late)


def test_an_idle_connection_holds_no_task(lab):
    """A writer task exists only while a peer applies backpressure."""
    async def writers() -> list[str]:
        return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("writer-")]

    with connect(f"{lab.ws_url}/ws/broadcast?username=ida") as ida, connect(f"{lab.ws_url}/ws/broadcast?username=ian"):
        recv_json(ida)
        ida.send(json.dumps({"message": "hello"}))
        recv_until(ida, lambda m: m.get("message") == "hello")
        assert on_server_loop(lab, writers) == []
