"""The hub's endpoints against a real server: broadcast, rooms, chat, private, pooling, notifications."""
from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import httpx
import pytest
from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rtlab import LabServer

from .helpers import closed_with, raw_handshake, recv_json, recv_until, wait_until


def say(ws, message: str, **extra) -> None:
    ws.send(json.dumps({"message": message, **extra}))


# -- /ws/broadcast ----------------------------------------------------------------------

def test_broadcast_join_message_leave(lab):
    with connect(lab.ws_url + "/ws/broadcast?username=ann") as ann:
        with connect(lab.ws_url + "/ws/broadcast?username=bob") as bob:
            assert recv_json(ann) == {"type": "join", "username": "bob", "count": 2}
            say(bob, "hello all")
            expected = {"type": "message", "username": "bob", "message": "hello all"}
            assert recv_json(ann) == expected
            assert recv_json(bob) == expected  # the sender too
        assert recv_json(ann) == {"type": "leave", "username": "bob", "count": 1}


def test_broadcast_needs_a_username(lab):
    with connect(lab.ws_url + "/ws/broadcast") as ws:
        assert closed_with(ws) == (1008, "username required")


def test_broadcast_bad_message_gets_an_error(lab):
    with connect(lab.ws_url + "/ws/broadcast?username=ann") as ann:
        ann.send('{"mesage": "typo"}')
        reply = recv_json(ann)
        assert reply["type"] == "error" and "message: Field required" in reply["detail"]


# -- /ws/room ---------------------------------------------------------------------------

def test_rooms_are_isolated(lab):
    url = lab.ws_url + "/ws/room/{}?username={}"
    with connect(url.format("a", "ann")) as ann, connect(url.format("b", "bob")) as bob:
        with connect(url.format("a", "cat")) as cat:
            assert recv_json(ann) == {"type": "user_joined", "username": "cat", "room_size": 2}
            say(cat, "only room a")
            assert recv_json(ann)["message"] == "only room a"
            assert recv_json(cat)["message"] == "only room a"
            say(bob, "only room b")
            assert recv_json(bob)["message"] == "only room b"  # bob's own room gets it...
        assert recv_json(ann) == {"type": "user_left", "username": "cat", "room_size": 1}
        say(ann, "after")
        assert recv_json(ann)["message"] == "after"  # ...and nothing from room b ever reached ann


def test_presence_covers_rooms(lab):
    with connect(lab.ws_url + "/ws/room/lobby?username=ann"):
        assert httpx.get(lab.url + "/rooms/lobby").json() == {"room": "lobby", "users": ["ann"], "count": 1}
    wait_until(lambda: httpx.get(lab.url + "/rooms/lobby").json()["count"] == 0, what="presence after leave")


# -- /ws/chat ---------------------------------------------------------------------------

def chat(lab, room: str, user: str):
    return connect(f"{lab.ws_url}/ws/chat/{quote(room)}?username={quote(user)}")


def test_chat_join_history_message_leave(lab):
    with chat(lab, "r", "ann") as ann:
        assert recv_json(ann) == {"type": "history", "messages": [], "recovered": False}
        joined = recv_json(ann)
        assert joined["type"] == "system" and joined["message"] == "ann joined the room"
        assert joined["users_count"] == 1 and joined["timestamp"].endswith("+00:00")
        ann.send(json.dumps({"type": "message", "message": "first"}))
        mine = recv_json(ann)
        assert (mine["type"], mine["username"], mine["message"]) == ("message", "ann", "first")
        with chat(lab, "r", "bob") as bob:
            history = recv_json(bob)
            assert history["type"] == "history" and [m["message"] for m in history["messages"]] == ["first"]
            assert recv_json(bob)["message"] == "bob joined the room"
            assert recv_json(ann)["users_count"] == 2
            bob.send(json.dumps({"type": "message", "message": "hi ann"}))
            assert recv_json(ann)["message"] == "hi ann"
            assert recv_json(bob)["message"] == "hi ann"
        left = recv_json(ann)
        assert (left["type"], left["message"], left["users_count"]) == ("system", "bob left the room", 1)
    wait_until(lambda: httpx.get(lab.url + "/rooms/r").json()["users"] == [], what="presence after leave")


def test_chat_history_is_bounded_to_100(lab):
    with chat(lab, "busy", "ann") as ann:
        recv_json(ann), recv_json(ann)
        for i in range(105):
            ann.send(json.dumps({"type": "message", "message": f"m{i}"}))
        recv_until(ann, lambda m: m.get("message") == "m104")
        with chat(lab, "busy", "bob") as bob:
            history = recv_json(bob)["messages"]
    assert len(history) == 100
    assert history[0]["message"] == "m5" and history[-1]["message"] == "m104"


def test_chat_private_and_delivery_status(lab):
    with chat(lab, "r", "ann") as ann, chat(lab, "other-room", "bob") as bob:
        recv_until(ann, lambda m: m.get("message") == "ann joined the room")
        recv_until(bob, lambda m: m.get("message") == "bob joined the room")
        ann.send(json.dumps({"type": "private", "to": "bob", "message": "psst"}))
        assert recv_json(ann) == {"type": "delivery", "sent": True}
        got = recv_json(bob)
        assert (got["type"], got["from"], got["message"]) == ("private", "ann", "psst")
        ann.send(json.dumps({"type": "private", "to": "nobody", "message": "hello?"}))
        assert recv_json(ann) == {"type": "delivery", "sent": False}


def test_chat_typing_goes_to_the_others_only(lab):
    with chat(lab, "t", "ann") as ann, chat(lab, "t", "bob") as bob:
        recv_until(ann, lambda m: m.get("message") == "bob joined the room")
        recv_until(bob, lambda m: m.get("message") == "bob joined the room")
        ann.send(json.dumps({"type": "typing"}))
        ann.send(json.dumps({"type": "message", "message": "done typing"}))
        assert recv_json(bob) == {"type": "typing", "username": "ann"}
        assert recv_json(bob)["message"] == "done typing"
        assert recv_json(ann)["message"] == "done typing"  # ann never got her own typing event


def test_chat_missing_username_closes_1008(lab):
    with connect(lab.ws_url + "/ws/chat/r") as ws:
        assert closed_with(ws) == (1008, "username required")


def test_chat_html_in_messages_is_kept_as_data(lab):
    payload = "<img src=x onerror=alert(1)>"
    with chat(lab, "x", payload) as ws:
        recv_json(ws)
        assert recv_json(ws)["message"] == f"{payload} joined the room"


# -- /ws/private --------------------------------------------------------------------------

def test_private_messages(lab):
    with connect(lab.ws_url + "/ws/private/ann") as ann, connect(lab.ws_url + "/ws/private/bob") as bob:
        ann.send(json.dumps({"to": "bob", "message": "hi"}))
        assert recv_json(bob) == {"type": "private_message", "from": "ann", "message": "hi"}
        assert recv_json(ann) == {"type": "delivery_status", "to": "bob", "delivered": True}
        ann.send(json.dumps({"to": "carol", "message": "anyone?"}))
        assert recv_json(ann) == {"type": "delivery_status", "to": "carol", "delivered": False}


def test_private_reaches_every_connection_of_the_recipient(lab):
    with connect(lab.ws_url + "/ws/private/ann") as ann, \
            connect(lab.ws_url + "/ws/private/bob") as bob1, connect(lab.ws_url + "/ws/private/bob") as bob2:
        ann.send(json.dumps({"to": "bob", "message": "both tabs"}))
        assert recv_json(bob1)["message"] == recv_json(bob2)["message"] == "both tabs"


# -- /ws/pooled ----------------------------------------------------------------------------

async def test_simultaneous_connects_respect_the_limit_exactly(lab):
    async def attempt():
        ws = await aconnect(lab.ws_url + "/ws/pooled/racer")
        try:
            return ws, json.loads(await asyncio.wait_for(ws.recv(), 5))
        except ConnectionClosed as exc:
            return ws, (exc.rcvd.code, exc.rcvd.reason)

    outcomes = await asyncio.gather(*(attempt() for _ in range(10)))
    accepted = [o for _, o in outcomes if isinstance(o, dict)]
    refused = [o for _, o in outcomes if isinstance(o, tuple)]
    assert len(accepted) == 3 and len(refused) == 7
    assert sorted(o["active_connections"] for o in accepted) == [1, 2, 3]
    assert set(refused) == {(1008, "Max connections reached")}
    for ws, _ in outcomes:
        await ws.close()


def test_pool_slot_is_freed_on_leave_and_sync_reaches_all(lab):
    url = lab.ws_url + "/ws/pooled/sam"
    with connect(url) as a, connect(url) as b:
        assert recv_json(a)["active_connections"] == 1
        assert recv_json(b)["active_connections"] == 2
        with connect(url) as c:
            recv_json(c)
            with connect(url) as d:
                assert closed_with(d) == (1008, "Max connections reached")
        wait_until(lambda: lab.services.pools.taken.get("pooled:sam") == 2, what="slot release")
        with connect(url) as c2:
            assert recv_json(c2)["active_connections"] == 3
            a.send(json.dumps({"cursor": [1, 2]}))
            for ws in (a, b, c2):
                assert recv_json(ws) == {"type": "sync", "data": {"cursor": [1, 2]}}


def test_pool_limit_is_a_setting():
    with LabServer(max_connections_per_user=1) as lab:
        with connect(lab.ws_url + "/ws/pooled/x") as first:
            recv_json(first)
            with connect(lab.ws_url + "/ws/pooled/x") as second:
                assert closed_with(second)[0] == 1008


# -- notifications and presence ------------------------------------------------------------

def test_notify_reaches_every_connection_of_the_user(lab):
    url = lab.ws_url + "/ws/notifications/u1"
    with connect(url) as tab1, connect(url) as tab2, connect(lab.ws_url + "/ws/notifications/u2") as other:
        for ws in (tab1, tab2, other):
            assert recv_json(ws) == {"type": "connected", "message": "Notifications enabled"}
        reply = httpx.post(lab.url + "/notify/u1", params={"message": "hello"}).json()
        assert reply == {"status": "sent", "delivered": 2}
        for ws in (tab1, tab2):
            note = recv_json(ws)
            assert (note["type"], note["message"]) == ("notification", "hello") and "T" in note["timestamp"]
        assert httpx.post(lab.url + "/notify/u1", json={"message": "as body"}).json()["delivered"] == 2
        assert recv_json(tab1)["message"] == "as body"
        tab1.send(json.dumps({"type": "ping"}))
        assert recv_json(tab1) == {"type": "pong"}
        other.send(json.dumps({"type": "ping"}))
        assert recv_json(other) == {"type": "pong"}  # u2 got no notification before its pong


def test_notify_user_not_connected_and_bad_requests(lab):
    assert httpx.post(lab.url + "/notify/ghost", params={"message": "x"}).json() == \
        {"status": "user not connected", "delivered": 0}
    assert httpx.post(lab.url + "/notify/ghost").status_code == 422


@pytest.mark.parametrize("path", ["/ws/private/{u}", "/ws/pooled/{u}", "/ws/notifications/{u}",
                                  "/ws/broadcast?username={u}", "/ws/room/r?username={u}",
                                  "/ws/chat/r?username={u}"])
def test_online_reflects_every_endpoint(lab, path):
    def online():
        return httpx.get(lab.url + "/user/zoe/online").json()["online"]

    assert online() is False
    with connect(lab.ws_url + path.format(u="zoe")):
        assert online() is True
    wait_until(lambda: online() is False, what="offline after leave")


# -- slow consumers and bookkeeping ---------------------------------------------------------------

def test_a_stalled_client_does_not_hold_up_a_room():
    # 600 messages as fast as the room delivers them: past the default rate limit, so it is off.
    with LabServer(outbox_limit_bytes=256 * 1024, rate_limit=0) as lab:
        stalled = raw_handshake(lab.port, "/ws/room/r?username=stalled")  # never reads
        url = lab.ws_url + "/ws/room/r?username={}"
        with connect(url.format("ann"), max_size=None) as ann, connect(url.format("bob"), max_size=None) as bob:
            recv_json(ann)  # bob joined
            chunk = "x" * 15_000  # under the 16,000-character field limit
            for i in range(600):  # 9 MB: far past what the stalled socket can absorb
                ann.send(json.dumps({"message": f"{i}:{chunk}"}))
                for ws in (ann, bob):
                    got = recv_until(ws, lambda m: m["type"] == "message", timeout=10)
                    assert got["message"].startswith(f"{i}:")
            assert lab.stats()["dropped_slow"] == 1
            assert lab.services.hub.users_in("room:r") == ["ann", "bob"]
        # The server let go of the stalled socket: reading it now ends (EOF or reset), no hang.
        stalled.settimeout(5)
        with pytest.raises(ConnectionResetError):
            while stalled.recv(1 << 20):
                pass
            raise ConnectionResetError("clean EOF")
        stalled.close()


def test_removal_happens_exactly_once():
    with LabServer() as lab:
        for i in range(5):
            with connect(lab.ws_url + f"/ws/chat/r?username=u{i}") as ws:
                recv_until(ws, lambda m: m["type"] == "system")
                ws.send(b"binary is refused with 1003")
                with pytest.raises(ConnectionClosed):
                    recv_until(ws, lambda m: False)
                assert ws.close_code == 1003
            with connect(lab.ws_url + f"/ws/broadcast?username=u{i}") as ws:
                ws.send("x" * 70_000)
                closed_with(ws)
            with connect(lab.ws_url + f"/ws/private/u{i}"):
                pass
        hub = lab.services.hub
        wait_until(lambda: not hub.connections, what="all connections removed")
        assert hub.metrics.accepted == 15 and hub.metrics.removed == 15
        assert not hub.groups and not hub.users and not lab.services.pools.taken
