"""Server-Sent Events against a real server, with httpx-sse and a raw stream reader."""
from __future__ import annotations

import asyncio
import json
import socket
import threading

import httpx
import pytest
from httpx_sse import aconnect_sse, connect_sse

from rtlab import LabServer

from .helpers import wait_until


def events(lab, path, headers=None, **params):
    """Every event of a finite stream (use ?limit=)."""
    with httpx.Client(base_url=lab.url, timeout=10) as client, \
            connect_sse(client, "GET", path, params=params, headers=headers or {}) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return list(source.iter_sse())


def test_plain_text_messages_and_the_wire_format(shared_lab):
    raw = httpx.get(shared_lab.url + "/sse", params={"interval": 0.001, "limit": 3}).text
    assert raw == "data: Message 1\nretry: 1000\n\ndata: Message 2\n\ndata: Message 3\n\n"
    assert [e.data for e in events(shared_lab, "/sse", interval=0.001, limit=3)] == \
        ["Message 1", "Message 2", "Message 3"]


def test_headers(shared_lab):
    with httpx.stream("GET", shared_lab.url + "/sse", params={"limit": 1, "interval": 0.001}) as r:
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"


def test_json_events(shared_lab):
    evs = events(shared_lab, "/sse/json", interval=0.001, limit=3)
    for e in evs:
        body = e.json()
        assert set(body) == {"timestamp", "value"} and isinstance(body["value"], (int, float))
        assert body["timestamp"].endswith("+00:00")


def test_named_events_every_fifth_is_a_milestone(shared_lab):
    evs = events(shared_lab, "/sse/events", interval=0.001, limit=10)
    assert [(e.event, e.data) for e in evs] == [
        ("milestone", f"Reached count {n}") if n % 5 == 0 else ("message", f"Count: {n}") for n in range(1, 11)]


def test_with_id_resumes_after_last_event_id(shared_lab):
    first = events(shared_lab, "/sse/with-id", interval=0.001, limit=3)
    assert [(e.id, e.data) for e in first] == [("1", "Event 1"), ("2", "Event 2"), ("3", "Event 3")]
    resumed = events(shared_lab, "/sse/with-id", headers={"Last-Event-ID": first[-1].id}, interval=0.001, limit=2)
    assert [(e.id, e.data) for e in resumed] == [("4", "Event 4"), ("5", "Event 5")]  # no gap, no repeat


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "9" * 80])
def test_with_id_malformed_last_event_id_is_400(shared_lab, bad):
    r = httpx.get(shared_lab.url + "/sse/with-id", headers={"Last-Event-ID": bad}, params={"limit": 1})
    assert r.status_code in (400, 422), r.text


def test_progress_runs_to_complete_then_ends(shared_lab):
    evs = events(shared_lab, "/sse/progress/job-7", interval=0.001)
    bodies = [e.json() for e in evs]
    assert bodies[:-1] == [{"task_id": "job-7", "progress": p} for p in range(0, 101, 10)]
    assert bodies[-1] == {"task_id": "job-7", "status": "complete"}


def test_logs_and_stock(shared_lab):
    for e in events(shared_lab, "/sse/logs/api", interval=0.001, limit=5):
        body = e.json()
        assert body["service"] == "api" and body["level"] in {"DEBUG", "INFO", "WARNING", "ERROR"}
        assert body["message"] and body["timestamp"]
    ticks = [e.json() for e in events(shared_lab, "/sse/stock/ACME", interval=0.001, limit=5)]
    assert all(t["symbol"] == "ACME" and t["price"] > 0 for t in ticks)
    for before, after in zip(ticks, ticks[1:]):
        assert after["price"] == pytest.approx(before["price"] + after["change"], abs=0.011)


@pytest.mark.parametrize("path", ["/sse", "/sse/json", "/sse/events", "/sse/with-id", "/sse/progress/t",
                                  "/sse/logs/s", "/sse/stock/S"])
@pytest.mark.parametrize("query", ["interval=-1", "interval=0", "interval=nan", "interval=inf", "interval=abc",
                                   "interval=1e12", "limit=-5", "limit=x", "limit=1e99"])
def test_bad_parameters_answer_422(shared_lab, path, query):
    assert httpx.get(f"{shared_lab.url}{path}?{query}", timeout=5).status_code == 422


def test_stream_parameters_on_subscription_streams(shared_lab):
    assert httpx.get(shared_lab.url + "/sse/announcements?limit=-1").status_code == 422
    assert httpx.get(shared_lab.url + "/sse/notifications/u?limit=nope").status_code == 422


# -- announcements and notifications: fan-out, resume -------------------------------------------

async def collect(lab, path, n, ready: asyncio.Event, headers=None):
    async with httpx.AsyncClient(base_url=lab.url, timeout=10) as client:
        async with aconnect_sse(client, "GET", path, params={"limit": n}, headers=headers or {}) as source:
            ready.set()
            return [e async for e in source.aiter_sse()]


def read_in_background(lab, path: str, limit: int) -> tuple[threading.Thread, dict]:
    """Read ``limit`` events of a stream in a thread; ``result["events"]`` once it is joined."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(events=events(lab, path, limit=limit)))
    thread.start()
    return thread, result


def subscribed(lab, count: int) -> None:
    wait_until(lambda: lab.stats()["sse_subscriptions"] >= count, what=f"{count} subscriptions")


async def test_every_subscriber_gets_every_announcement_in_order(lab):
    readies = [asyncio.Event() for _ in range(3)]
    tasks = [asyncio.create_task(collect(lab, "/sse/announcements", 20, r)) for r in readies]
    await asyncio.gather(*(r.wait() for r in readies))
    await asyncio.to_thread(subscribed, lab, 3)
    async with httpx.AsyncClient(base_url=lab.url) as client:
        for i in range(20):
            reply = (await client.post("/announce", params={"message": f"news {i}"})).json()
            assert reply == {"status": "announced", "delivered": 3}
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    for evs in results:
        assert [e.json()["message"] for e in evs] == [f"news {i}" for i in range(20)]
        assert [int(e.id) for e in evs] == list(range(1, 21))


def test_announce_body_and_errors(lab):
    assert httpx.post(lab.url + "/announce", json={"message": "hi"}).json() == {"status": "announced", "delivered": 0}
    assert httpx.post(lab.url + "/announce").status_code == 422
    assert httpx.post(lab.url + "/announce", json={"message": 5}).status_code == 422


def test_resume_replays_what_was_missed_in_order(lab):
    for i in range(10):
        httpx.post(lab.url + "/announce", params={"message": f"m{i}"})
    first = events(lab, "/sse/announcements", headers={"Last-Event-ID": "0"}, limit=4)
    assert [e.id for e in first] == ["1", "2", "3", "4"]
    rest = events(lab, "/sse/announcements", headers={"Last-Event-ID": first[-1].id}, limit=6)
    assert [e.json()["message"] for e in rest] == [f"m{i}" for i in range(4, 10)]
    assert [e.id for e in rest] == [str(i) for i in range(5, 11)]


def test_resume_at_and_beyond_the_edge_of_the_log():
    with LabServer(event_log_size=100) as lab:
        with httpx.Client(base_url=lab.url) as client:
            for i in range(150):
                client.post("/announce", params={"message": f"m{i}"})
        # ids 51..150 are in the log. Last-Event-ID 50 is exactly at the edge: nothing lost.
        at_edge = events(lab, "/sse/announcements", headers={"Last-Event-ID": "50"}, limit=100)
        assert [e.id for e in at_edge] == [str(i) for i in range(51, 151)]
        assert all(e.event == "message" for e in at_edge)
        for lost in ("49", "0", "151", "9999", "not-a-number"):
            evs = events(lab, "/sse/announcements", headers={"Last-Event-ID": lost}, limit=1)
            assert evs[0].event == "history_lost", lost
            info = evs[0].json()
            assert info["oldest_available"] == 51 and info["latest"] == 150


def test_notifications_over_sse_and_websocket_through_one_service(lab):
    from websockets.sync.client import connect

    with connect(lab.ws_url + "/ws/notifications/kim") as ws:
        ws.recv(timeout=5)
        t, result = read_in_background(lab, "/sse/notifications/kim", 2)
        subscribed(lab, 1)
        assert httpx.get(lab.url + "/user/kim/online").json() == {"online": True}
        for msg in ("one", "two"):
            assert httpx.post(lab.url + "/notify/kim", params={"message": msg}).json() == \
                {"status": "sent", "delivered": 2}
        t.join(10)
        assert [e.json()["message"] for e in result["events"]] == ["one", "two"]
        assert [e.json()["type"] for e in result["events"]] == ["notification", "notification"]
        assert [e.id for e in result["events"]] == ["1", "2"]
        assert json.loads(ws.recv(timeout=5))["message"] == "one"
    # Offline for a moment: what was sent meanwhile is replayed on reconnect.
    httpx.post(lab.url + "/notify/kim", params={"message": "while away"})
    missed = events(lab, "/sse/notifications/kim", headers={"Last-Event-ID": "2"}, limit=1)
    assert missed[0].json()["message"] == "while away" and missed[0].id == "3"


def test_subscriptions_are_released_when_clients_go_away(lab):
    clients = []
    for path in ("/sse/announcements", "/sse/notifications/a", "/sse/notifications/b"):
        client = httpx.Client(base_url=lab.url, timeout=10)
        cm = connect_sse(client, "GET", path)
        cm.__enter__()
        clients.append((client, cm))
    wait_until(lambda: len(lab.services.subscriptions) == 3, what="three live subscriptions")
    assert len(lab.services.announcements.subscribers) == 1
    for client, cm in clients:
        cm.__exit__(None, None, None)
        client.close()
    wait_until(lambda: len(lab.services.subscriptions) == 0, what="subscriptions released")
    assert not lab.services.announcements.subscribers
    assert not any(ch.subscribers for ch in lab.services.notifier.channels.values())


def test_a_subscriber_that_stops_reading_does_not_block_the_others():
    with LabServer() as lab:
        stalled = socket.create_connection(("127.0.0.1", lab.port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(f"GET /sse/announcements HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\n\r\n".encode())
        subscribed(lab, 1)  # and it never reads again
        t, result = read_in_background(lab, "/sse/announcements", 1500)
        subscribed(lab, 2)
        big = "x" * 12_000
        with httpx.Client(base_url=lab.url) as client:
            for i in range(1500):  # 18 MB: more than the stalled socket and a whole queue can hold
                client.post("/announce", json={"message": f"{i}:{big}"})
        t.join(30)
        assert [int(e.json()["message"].split(":")[0]) for e in result["events"]] == list(range(1500))
        assert lab.stats()["sse_dropped"] == 1
        stalled.close()


def test_keepalive_comment_when_idle(lab, monkeypatch):
    from rtlab import channels
    monkeypatch.setattr(channels, "KEEPALIVE", 0.2)
    with httpx.stream("GET", lab.url + "/sse/announcements", timeout=5) as r:
        seen = b""
        for chunk in r.iter_raw():
            seen += chunk
            if b": ping" in seen:
                break
    assert b": ping" in seen


def test_streams_end_cleanly_when_the_server_stops():
    lab = LabServer().start()
    outcome = {}
    ticking = threading.Event()  # the ticking stream has sent its first event

    def read(path):
        try:
            with httpx.Client(timeout=10) as client, connect_sse(client, "GET", lab.url + path) as source:
                events = outcome[path] = []
                for e in source.iter_sse():
                    events.append(e.data)
                    ticking.set()
        except httpx.HTTPError as exc:  # an incomplete chunked body would land here
            outcome[path] = exc

    threads = [threading.Thread(target=read, args=(p,)) for p in ("/sse?interval=0.05", "/sse/announcements")]
    for t in threads:
        t.start()
    wait_until(lambda: len(lab.services.subscriptions) == 1, what="subscription")
    assert ticking.wait(10), "the ticking stream never started"
    lab.stop()
    for t in threads:
        t.join(10)
    assert isinstance(outcome["/sse?interval=0.05"], list) and outcome["/sse?interval=0.05"][0] == "Message 1"
    assert outcome["/sse/announcements"] == []


async def test_a_flood_of_announcements_drops_no_healthy_subscriber():
    """Back-to-back announcements faster than one event per wake-up: every healthy subscriber gets
    every one of them (its writer sends all that queued up in one write); none is dropped."""
    from rtlab.bench.clients import Poster, stamp, subscribe

    subscribers, announcements, posters = 200, 1500, 4
    with LabServer() as lab:
        subs = [await subscribe(lab.port, "/sse/announcements") for _ in range(subscribers)]
        done = [s.arm(announcements) for s in subs]
        conns = [await Poster.open(lab.port) for _ in range(posters)]

        async def post(poster, count):
            for _ in range(count):
                assert await poster.post(f"/announce?message={stamp()}") == 200

        await asyncio.gather(*(post(p, announcements // posters) for p in conns))
        await asyncio.wait_for(asyncio.gather(*done), 60)
        assert [s.got for s in subs] == [announcements] * subscribers
        assert lab.stats()["sse_dropped"] == 0 and not any(s.ended.done() for s in subs)
        for c in conns:
            c.close()
        for s in subs:
            s.transport.abort()
