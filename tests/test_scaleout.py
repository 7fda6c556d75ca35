"""Two rtlab processes behind one real redis-server behave as one server.

Every test runs twice: with two real processes sharing Redis, and with the memory broker,
where both "nodes" are the same server. The same assertions hold for both.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import threading

import httpx
import pytest
from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rtlab import LabServer, ServerStartError
from rtlab.tools.redis import free_port

from .helpers import recv_json, recv_until, wait_until

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="needs redis-server (apt-get install redis-server)")


class Node:
    """An rtlab server as a separate process, as it would run in production."""

    def __init__(self, broker: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "rtlab", "serve", "--port", "0", "--broker", broker],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={"RTLAB_SECRET": "scaleout-tests", "PATH": "/usr/bin:/bin"})
        line = self.proc.stdout.readline()
        if "serving on" not in line:
            raise RuntimeError(self.proc.stderr.read())
        self.url = line.split()[3]
        self.ws_url = self.url.replace("http://", "ws://")
        wait_until(lambda: self._healthy(), timeout=10, what="node health")

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture(params=["redis", "memory"])
def nodes(request):
    """(a, b): two processes sharing Redis, or one memory-broker server twice."""
    if request.param == "memory":
        with LabServer() as lab:
            yield lab, lab
        return
    redis_server = request.getfixturevalue("redis_server")
    subprocess.run(["redis-cli", "-p", str(redis_server.port), "FLUSHALL"], check=False, capture_output=True) \
        if shutil.which("redis-cli") else None
    a, b = Node(redis_server.url), Node(redis_server.url)
    yield a, b
    a.stop()
    b.stop()


class SSEReader(threading.Thread):
    """Reads n events in a thread; ``ready`` is set once the server confirms the subscription."""

    def __init__(self, url: str, n: int, headers: dict | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.n, self.headers = url, n, headers or {}
        self.ready = threading.Event()
        self.events: list[tuple[str, dict]] = []

    def run(self) -> None:
        with httpx.stream("GET", self.url, params={"limit": self.n}, headers=self.headers, timeout=10) as r:
            event_id, data = None, None
            for line in r.iter_lines():
                if line == ": subscribed":  # sent after the subscription is registered, everywhere
                    self.ready.set()
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data is not None:
                    self.events.append((event_id, data))
                    event_id = data = None

    def started(self) -> "SSEReader":
        self.start()
        assert self.ready.wait(10), "subscription not confirmed"
        return self


def chat(node, room, user):
    return connect(f"{node.ws_url}/ws/chat/{room}?username={user}")


def test_chat_crosses_processes(nodes):
    a, b = nodes
    with chat(a, "hall", "ann") as ann:
        recv_until(ann, lambda m: m.get("message") == "ann joined the room")
        with chat(b, "hall", "bob") as bob:
            joined = recv_until(ann, lambda m: m.get("message") == "bob joined the room")
            assert joined["users_count"] == 2
            recv_until(bob, lambda m: m.get("message") == "bob joined the room")
            ann.send(json.dumps({"type": "message", "message": "from a"}))
            assert recv_until(bob, lambda m: m["type"] == "message")["message"] == "from a"
            bob.send(json.dumps({"type": "message", "message": "from b"}))
            assert recv_until(ann, lambda m: m["type"] == "message" and m["username"] == "bob")["message"] == "from b"
            bob.send(json.dumps({"type": "typing"}))
            assert recv_until(ann, lambda m: m["type"] == "typing") == {"type": "typing", "username": "bob"}
            ann.send(json.dumps({"type": "private", "to": "bob", "message": "psst"}))
            assert recv_until(ann, lambda m: m["type"] == "delivery") == {"type": "delivery", "sent": True}
            got = recv_until(bob, lambda m: m["type"] == "private")
            assert (got["from"], got["message"]) == ("ann", "psst")
            ann.send(json.dumps({"type": "private", "to": "nobody", "message": "?"}))
            assert recv_until(ann, lambda m: m["type"] == "delivery") == {"type": "delivery", "sent": False}
            for node in (a, b):
                hall = {"room": "hall", "users": ["ann", "bob"], "count": 2}
                assert httpx.get(node.url + "/rooms/hall").json() == hall
                assert httpx.get(node.url + "/user/bob/online").json() == {"online": True}
        left = recv_until(ann, lambda m: m.get("message") == "bob left the room")
        assert left["users_count"] == 1
        # History is shared: a newcomer on the other process sees both messages.
        with chat(b, "hall", "cy") as cy:
            history = recv_json(cy)
            assert [m["message"] for m in history["messages"]] == ["from a", "from b"]
    wait_until(lambda: httpx.get(a.url + "/user/bob/online").json() == {"online": False}, what="bob offline")


def test_broadcast_and_rooms_cross_processes(nodes):
    a, b = nodes
    with connect(f"{a.ws_url}/ws/room/r1?username=ann") as ann, connect(f"{b.ws_url}/ws/room/r1?username=bob") as bob:
        # (Across processes bob may hear of ann's join too: both happen at about the same time.)
        assert recv_until(ann, lambda m: m["username"] == "bob") == \
            {"type": "user_joined", "username": "bob", "room_size": 2}
        bob.send(json.dumps({"message": "hi"}))
        expected = {"type": "message", "username": "bob", "message": "hi"}
        assert recv_json(ann) == expected
        assert recv_until(bob, lambda m: m["type"] == "message") == expected
    with connect(f"{a.ws_url}/ws/broadcast?username=ann") as ann, \
            connect(f"{b.ws_url}/ws/broadcast?username=bob") as bob:
        assert recv_until(ann, lambda m: m["username"] == "bob") == {"type": "join", "username": "bob", "count": 2}
        ann.send(json.dumps({"message": "all"}))
        assert recv_until(bob, lambda m: m["type"] == "message")["message"] == "all"


def test_private_endpoint_crosses_processes(nodes):
    a, b = nodes
    with connect(f"{a.ws_url}/ws/private/ann") as ann, connect(f"{b.ws_url}/ws/private/bob") as bob:
        wait_until(lambda: httpx.get(a.url + "/user/bob/online").json()["online"], what="bob visible from a")
        ann.send(json.dumps({"to": "bob", "message": "hi"}))
        assert recv_json(bob) == {"type": "private_message", "from": "ann", "message": "hi"}
        assert recv_json(ann) == {"type": "delivery_status", "to": "bob", "delivered": True}


def test_notifications_cross_processes_with_correct_counts(nodes):
    a, b = nodes
    with connect(f"{a.ws_url}/ws/notifications/kim") as phone, connect(f"{b.ws_url}/ws/notifications/kim") as tablet:
        recv_json(phone), recv_json(tablet)
        laptop = SSEReader(f"{b.url}/sse/notifications/kim", 1).started()
        reply = httpx.post(f"{a.url}/notify/kim", params={"message": "hello"}).json()
        assert reply == {"status": "sent", "delivered": 3}
        assert recv_json(phone)["message"] == recv_json(tablet)["message"] == "hello"
        laptop.join(10)
        assert [d["message"] for _, d in laptop.events] == ["hello"]


def test_announcements_reach_every_process_and_resume_anywhere(nodes):
    a, b = nodes
    readers = [SSEReader(f"{node.url}/sse/announcements", 3).started() for node in (a, b)]
    for i in range(3):
        assert httpx.post(f"{b.url}/announce", json={"message": f"news {i}"}).json()["delivered"] == 2
    for r in readers:
        r.join(10)
    seen = [(i, d["message"]) for i, d in readers[0].events]
    assert seen == [(i, d["message"]) for i, d in readers[1].events]
    assert [m for _, m in seen] == ["news 0", "news 1", "news 2"]
    # Resume on the *other* process from the first id seen: the shared log replays the rest.
    later = SSEReader(f"{a.url}/sse/announcements", 2, headers={"Last-Event-ID": seen[0][0]})
    later.start()
    later.join(10)
    assert [(i, d["message"]) for i, d in later.events] == seen[1:]


async def test_pool_limit_holds_across_processes(nodes):
    a, b = nodes

    async def attempt(node):
        ws = await aconnect(f"{node.ws_url}/ws/pooled/racer")
        try:
            return ws, json.loads(await asyncio.wait_for(ws.recv(), 5))
        except ConnectionClosed as exc:
            return ws, exc.rcvd.code

    outcomes = await asyncio.gather(*(attempt(a if i % 2 else b) for i in range(10)))
    accepted = [o for _, o in outcomes if isinstance(o, dict)]
    assert len(accepted) == 3 and [o for _, o in outcomes if not isinstance(o, dict)] == [1008] * 7
    # and a sync from one device reaches the others, on both processes
    live = [ws for ws, o in outcomes if isinstance(o, dict)]
    await live[0].send(json.dumps({"k": 1}))
    for ws in live:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "sync", "data": {"k": 1}}
    for ws, _ in outcomes:
        await ws.close()


def test_collaborative_editing_across_processes_converges(nodes):
    from rtlab.documents import OTClient

    a, b = nodes
    with contextlib.ExitStack() as stack:
        editors = []
        for node, user in ((a, "ann"), (b, "bob"), (a, "cy")):
            ws = stack.enter_context(connect(f"{node.ws_url}/ws/document/plan?user_id={user}"))
            client = OTClient()
            # (a join notice from another process may come first: the first *init* is the state)
            client.receive(recv_until(ws, lambda m: m["type"] == "init"))
            editors.append((ws, client))
        # Everyone types at once, on version 0, in several rounds, without waiting for the others.
        words = {}
        for rnd in range(3):
            for i, (ws, client) in enumerate(editors):
                word = f"<{i}.{rnd}>"
                words[word] = True
                # at either end, so that no word is typed into the middle of another
                msg = client.edit(0 if (i + rnd) % 2 else len(client.content), 0, word)
                if msg:
                    ws.send(json.dumps(msg))

        def step(ws, client):
            msg = recv_until(ws, lambda m: m["type"] in ("ack", "edit", "error"), timeout=10)
            assert msg["type"] != "error", msg
            reply = client.receive(msg)
            assert reply is None or reply["type"] == "edit"
            if reply:
                ws.send(json.dumps(reply))

        for ws, client in editors:  # every edit of every client acknowledged...
            while client.pending:
                step(ws, client)
        with connect(f"{b.ws_url}/ws/document/plan?user_id=dee") as late:
            init = recv_json(late)  # ...so this is the final text, on either process
        for ws, client in editors:  # ...and every client catches up to it
            while client.version < init["version"]:
                step(ws, client)
        assert {client.content for _, client in editors} == {init["content"]}
        assert all(w in init["content"] for w in words)


@needs_redis
def test_a_node_takes_no_traffic_of_a_room_it_has_no_member_in(redis_server):
    """Interest-based delivery: B subscribes to a room's channel while one of its clients is in the
    room, receives none of another room's traffic, and unsubscribes when its last member leaves."""
    import redis

    from rtlab.broker.redis.wire import group_channel

    r = redis.Redis(port=redis_server.port, decode_responses=True)

    def nodes_on(room: str) -> int:
        return dict(r.pubsub_numsub(group_channel(f"room:{room}")))[group_channel(f"room:{room}")]

    with LabServer(broker=redis_server.url) as a, LabServer(broker=redis_server.url) as b:
        with connect(f"{b.ws_url}/ws/room/here?username=bob") as bob, \
                connect(f"{b.ws_url}/ws/room/aside?username=dee") as dee:
            assert nodes_on("here") == 1  # B, subscribed (and confirmed) before bob's join completed
            with connect(f"{a.ws_url}/ws/room/here?username=cy") as cy, \
                    connect(f"{a.ws_url}/ws/room/elsewhere?username=ann") as ann:
                recv_until(bob, lambda m: m.get("username") == "cy")
                assert (nodes_on("here"), nodes_on("elsewhere")) == (2, 1)
                before = b.stats()
                for i in range(20):
                    ann.send(json.dumps({"message": f"m{i}"}))
                recv_until(ann, lambda m: m.get("message") == "m19")
                cy.send(json.dumps({"message": "marker"}))  # from the same node, so after ann's 20 on the bus
                assert recv_until(bob, lambda m: m["type"] == "message") == \
                    {"type": "message", "username": "cy", "message": "marker"}
                after = b.stats()
                assert after["bus_received"] - before["bus_received"] == 1  # the marker, none of ann's 20
                assert after["bus_dropped"] == before["bus_dropped"]
                assert a.stats()["bus_received"] > 20  # A has members in both rooms: it took both
            bob.close()
            wait_until(lambda: nodes_on("here") == 0, what="both nodes unsubscribed from the room")
            dee.send(json.dumps({"message": "still here"}))
            assert recv_until(dee, lambda m: m["type"] == "message")["message"] == "still here"


@needs_redis
def test_a_redis_restart_mid_chat(redis_server):
    a, b = Node(redis_server.url), Node(redis_server.url)
    try:
        with chat(a, "ops", "ann") as ann, chat(b, "ops", "bob") as bob:
            recv_until(ann, lambda m: m.get("message") == "bob joined the room")
            recv_until(bob, lambda m: m.get("message") == "bob joined the room")
            ann.send(json.dumps({"type": "message", "message": "before"}))
            assert recv_until(bob, lambda m: m["type"] == "message")["message"] == "before"

            redis_server.restart()  # every key is gone (no persistence), every connection to it broken

            # The local clients stay connected. Once both processes have reconnected and resubscribed,
            # messages cross again, each way on its own (each process resubscribes on its own): keep
            # saying something until the other side hears it.
            def crossed(sender, receiver, text: str) -> bool:
                sender.send(json.dumps({"type": "message", "message": text}))
                try:
                    return recv_until(receiver, lambda m: m.get("message") == text, timeout=0.5) is not None
                except (TimeoutError, AssertionError):
                    return False

            wait_until(lambda: crossed(ann, bob, "probe A to B"), timeout=20, what="A to B crossing again")
            wait_until(lambda: crossed(bob, ann, "probe B to A"), timeout=20, what="B to A crossing again")
            bob.send(json.dumps({"type": "message", "message": "after"}))
            assert recv_until(ann, lambda m: m.get("message") == "after")["username"] == "bob"
            # Presence was restated by both processes after the restart.
            wait_until(lambda: httpx.get(a.url + "/rooms/ops").json()["users"] == ["ann", "bob"],
                       timeout=10, what="presence restored")
    finally:
        a.stop()
        b.stop()


def test_unreachable_broker_is_one_clear_line_and_non_zero_exit():
    port = free_port()  # nothing listens here
    out = subprocess.run([sys.executable, "-m", "rtlab", "serve", "--port", "0", "--broker",
                          f"redis://127.0.0.1:{port}/0"], capture_output=True, text=True, timeout=30,
                         env={"RTLAB_SECRET": "x", "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the broker" in lines[0] and str(port) in lines[0], out.stderr


def test_unreachable_broker_in_a_notebook_raises_a_clear_error():
    port = free_port()
    with pytest.raises(ServerStartError, match="cannot reach the broker"):
        LabServer(broker=f"redis://127.0.0.1:{port}/0").start(timeout=10)
