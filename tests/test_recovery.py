"""Recovery on reconnect for WebSocket streams (the contract's "Recovery on reconnect").

A chat client that drops after message K and reconnects with ``since`` = K's id receives K+1...
in order, exactly once, then the live stream; on the same process and on another process behind
Redis. Unknown, malformed or stale ids get ``recovered: false`` and never a refusal. Notifications
resume the same way, with ``history_lost`` for an id the log no longer holds.
"""
from __future__ import annotations

import asyncio
import json
import random
from urllib.parse import quote

import httpx
import pytest
from websockets.asyncio.client import connect

from rtlab import LabServer

from .test_scaleout import Node, needs_redis


async def _next(ws, timeout: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def join(ws_url: str, room: str, user: str, since: str | None = None):
    """Connect to a chat room; return (socket, history message)."""
    url = f"{ws_url}/ws/chat/{quote(room, safe='')}?username={quote(user, safe='')}"
    if since is not None:
        url += f"&since={quote(since, safe='')}"
    ws = await connect(url, max_queue=None)
    history = await _next(ws)
    assert history["type"] == "history", history
    return ws, history


async def say_all(ws, texts: list[str]) -> list[dict]:
    """Send each text and wait for its echo; the echoes (with their ids), in order."""
    echoes = []
    for text in texts:
        await ws.send(json.dumps({"type": "message", "message": text}))
        while (m := await _next(ws))["type"] != "message" or m["message"] != text:
            pass
        echoes.append(m)
    return echoes


async def read_through(ws, text: str) -> list[dict]:
    """Every message up to and including the room message ``text`` (5 s bound per message)."""
    seen = [await _next(ws)]
    while seen[-1].get("message") != text:
        seen.append(await _next(ws))
    return seen


def texts_of(messages: list[dict]) -> list[str]:
    return [m["message"] for m in messages if m.get("type") == "message"]


async def test_every_message_has_an_id_increasing_within_the_room(lab):
    ws, history = await join(lab.ws_url, "ids", "ann")
    assert history == {"type": "history", "messages": [], "recovered": False}
    echoes = await say_all(ws, ["a", "b", "c"])
    ids = [m["id"] for m in echoes]
    assert all(isinstance(i, str) for i in ids) and len(set(ids)) == 3
    again, history = await join(lab.ws_url, "ids", "bob")
    assert [m["id"] for m in history["messages"]] == ids  # the history carries the same ids
    await ws.close()
    await again.close()


async def test_a_reconnect_with_since_gets_exactly_what_was_missed_then_live(lab):
    ann, _ = await join(lab.ws_url, "r", "ann")
    bob, _ = await join(lab.ws_url, "r", "bob")
    first = await say_all(ann, ["1", "2", "3"])
    while (m := await _next(bob))["type"] != "message" or m["message"] != "3":
        pass
    await bob.close()  # bob drops after message 3
    await say_all(ann, ["4", "5"])
    bob, history = await join(lab.ws_url, "r", "bob", since=first[-1]["id"])
    assert history["recovered"] is True and texts_of(history["messages"]) == ["4", "5"]
    await say_all(ann, ["6"])
    live = await read_through(bob, "6")  # its own join notice, then 6
    assert texts_of(live) == ["6"]
    await ann.close()
    await bob.close()


async def test_a_message_the_history_held_is_not_delivered_again_when_it_arrives_late(lab):
    """Across processes the history is read on one Redis connection and live messages come on
    another, so a message the history holds can reach the node after the history was sent. Here
    the hub is handed such a late message directly, as the node's bus listener would."""
    from rtlab.history import key_of, room_group
    from rtlab.hub import Outgoing

    ann, _ = await join(lab.ws_url, "late", "ann")
    sent = await say_all(ann, ["1", "2"])
    bob, history = await join(lab.ws_url, "late", "bob")
    assert texts_of(history["messages"]) == ["1", "2"]
    late = Outgoing(sent[-1], key=key_of(sent[-1]))
    lab.services.loop.call_soon_threadsafe(lab.services.hub.publish, room_group("late"), late)
    await say_all(ann, ["3"])
    live = await read_through(bob, "3")  # its own join notice, then 3, and never 2 again
    assert texts_of(live) == ["3"]
    await ann.close()
    await bob.close()


async def test_since_the_latest_message_recovers_nothing_more():
    with LabServer() as lab:
        ann, _ = await join(lab.ws_url, "r", "ann")
        last = (await say_all(ann, ["x", "y"]))[-1]
        again, history = await join(lab.ws_url, "r", "ann2", since=last["id"])
        assert history["recovered"] is True and history["messages"] == []
        await ann.close()
        await again.close()


@pytest.mark.parametrize("since", ["", "nonsense", "deadbeef.1", "x" * 1000, "%00", "1-2-3", "ab.-1", "ab.1-x"])
async def test_unknown_or_malformed_ids_get_the_last_messages_and_recovered_false(lab, since):
    ann, _ = await join(lab.ws_url, "u", "ann")
    await say_all(ann, ["one", "two"])
    bob, history = await join(lab.ws_url, "u", "bob", since=since)
    assert history["recovered"] is False and texts_of(history["messages"]) == ["one", "two"]
    await ann.close()
    await bob.close()


async def test_an_id_older_than_the_kept_history_is_not_recovered():
    with LabServer(history_size=3) as lab:
        ann, _ = await join(lab.ws_url, "h", "ann")
        sent = await say_all(ann, [str(i) for i in range(6)])
        bob, history = await join(lab.ws_url, "h", "bob", since=sent[1]["id"])  # "1" is no longer kept
        assert history["recovered"] is False and texts_of(history["messages"]) == ["3", "4", "5"]
        bob2, history = await join(lab.ws_url, "h", "bob2", since=sent[3]["id"])  # "3" still is
        assert history["recovered"] is True and texts_of(history["messages"]) == ["4", "5"]
        for ws in (ann, bob, bob2):
            await ws.close()


BIG = 15_000  # characters: under the 16,000 a chat message may have


async def _big_history(ws_url: str, room: str) -> None:
    """100 messages of 15,000 characters (1.5 MB) in a room: a newcomer with a default `websockets`
    client (1 MiB frames at most) still joins, and gets the newest messages that fit in 512 KiB."""
    ann, _ = await join(ws_url, room, "ann")
    sent = await say_all(ann, [f"{i:03d}" + "x" * (BIG - 3) for i in range(100)])
    bob, history = await join(ws_url, room, "bob")  # a default client: it would be closed with 1009
    got = texts_of(history["messages"])
    assert history["recovered"] is False and 20 < len(got) < 100
    assert got == texts_of(sent[-len(got):])  # the newest, in order
    assert len(json.dumps(history["messages"], separators=(",", ":"), ensure_ascii=False).encode()) <= 512 * 1024
    carl, history = await join(ws_url, room, "carl", since=sent[0]["id"])  # 99 missed: they do not fit
    assert history["recovered"] is False and texts_of(history["messages"]) == got
    dave, history = await join(ws_url, room, "dave", since=sent[-3]["id"])  # 2 missed: they fit
    assert history["recovered"] is True and texts_of(history["messages"]) == texts_of(sent[-2:])
    for ws in (ann, bob, carl, dave):
        await ws.close()


async def test_a_history_of_big_messages_is_cut_to_what_a_default_client_accepts():
    with LabServer() as lab:
        await _big_history(lab.ws_url, "big")


@needs_redis
def test_a_history_of_big_messages_is_cut_to_fit_behind_redis_too(redis_server):
    node = Node(redis_server.url)
    try:
        asyncio.run(_big_history(node.ws_url, "big"))
    finally:
        node.stop()


async def test_ids_from_a_previous_server_run_are_unknown():
    with LabServer() as first:
        ann, _ = await join(first.ws_url, "r", "ann")
        old = (await say_all(ann, ["before the restart"]))[-1]["id"]
        await ann.close()
    with LabServer() as second:
        ann, _ = await join(second.ws_url, "r", "ann")
        await say_all(ann, ["after"])
        bob, history = await join(second.ws_url, "r", "bob", since=old)
        assert history["recovered"] is False and texts_of(history["messages"]) == ["after"]
        await ann.close()
        await bob.close()


async def reconnecting_reader(ws_urls: list[str], room: str, name: str, total: int, seed: int) -> list[str]:
    """Read a room's messages until ``total`` were seen, dropping and reconnecting (with ``since``)
    after a random number of messages each time, to one of ``ws_urls`` in turn."""
    rng = random.Random(seed)
    seen: list[str] = []
    last_id = None
    hop = 0
    while len(seen) < total:
        ws, history = await join(ws_urls[hop % len(ws_urls)], room, f"{name}{hop}", since=last_id)
        hop += 1
        if last_id is not None:
            assert history["recovered"] is True, (name, last_id, history)
        batch = [m for m in history["messages"] if m["type"] == "message"]
        budget = rng.randint(1, 7)
        while len(seen) + len(batch) < total and budget > 0:
            m = await _next(ws, timeout=10)
            if m["type"] == "message":
                batch.append(m)
                budget -= 1
        seen += texts_of(batch)
        if batch:
            last_id = batch[-1]["id"]
        await ws.close()
    return seen


async def publish_continuously(ws_url: str, room: str, total: int) -> None:
    ws, _ = await join(ws_url, room, "publisher")
    for i in range(total):
        await ws.send(json.dumps({"type": "message", "message": str(i)}))
    while (await _next(ws, timeout=10)).get("message") != str(total - 1):
        pass
    await ws.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_no_gap_and_no_repeat_while_clients_reconnect_in_a_loop(seed):
    """A publisher never stops; readers drop and rejoin with ``since`` every few messages."""
    total = 300
    with LabServer(rate_limit=0, history_size=total) as lab:
        readers = [reconnecting_reader([lab.ws_url], "race", f"r{i}-", total, seed * 10 + i) for i in range(3)]
        results = await asyncio.gather(publish_continuously(lab.ws_url, "race", total), *readers)
    for seen in results[1:]:
        assert seen == [str(i) for i in range(total)]


async def test_notifications_resume_after_since_then_live_and_say_when_history_is_lost(lab):
    async with httpx.AsyncClient(base_url=lab.url) as http:
        async with connect(f"{lab.ws_url}/ws/notifications/nia") as ws:
            assert (await _next(ws))["type"] == "connected"
            for i in range(3):
                await http.post("/notify/nia", params={"message": f"n{i}"})
            got = [await _next(ws) for _ in range(3)]
        assert [m["message"] for m in got] == ["n0", "n1", "n2"] and all("id" in m for m in got)
        for i in range(3, 5):
            await http.post("/notify/nia", params={"message": f"n{i}"})
        async with connect(f"{lab.ws_url}/ws/notifications/nia?since={got[1]['id']}") as ws:
            assert (await _next(ws))["type"] == "connected"
            missed = [await _next(ws) for _ in range(3)]
            assert [m["message"] for m in missed] == ["n2", "n3", "n4"]
            await http.post("/notify/nia", params={"message": "live"})
            assert (await _next(ws))["message"] == "live"
        for stale in ("99999", "not-a-number", "9" * 500):
            async with connect(f"{lab.ws_url}/ws/notifications/nia?since={stale}") as ws:
                assert (await _next(ws))["type"] == "connected"
                assert (await _next(ws))["type"] == "history_lost"
                await http.post("/notify/nia", params={"message": "after loss"})
                assert (await _next(ws))["message"] == "after loss"


async def test_a_websocket_notification_shows_the_id_of_its_sse_twin(lab):
    from httpx_sse import aconnect_sse

    async with httpx.AsyncClient(base_url=lab.url, timeout=10) as http, \
            connect(f"{lab.ws_url}/ws/notifications/twin") as ws:
        assert (await _next(ws))["type"] == "connected"
        async with aconnect_sse(http, "GET", "/sse/notifications/twin", params={"limit": 1}) as source:
            events = source.aiter_sse()
            await http.post("/notify/twin", params={"message": "hello"})
            sse = await asyncio.wait_for(anext(events), 5)
        ws_msg = await _next(ws)
        assert ws_msg["id"] == sse.id and ws_msg["message"] == json.loads(sse.data)["message"]


async def _resume_answers(lab) -> dict[str, tuple]:
    """What a notification client resuming with each ``since`` is told, on a log of 100 that has
    had 102 notifications (ids 1-102; 1 and 2 are gone): history lost, or what it replays."""
    answers = {}
    async with httpx.AsyncClient(base_url=lab.url) as http:
        for since in ("0", "1", "2", "101", "102", "103", "99999"):
            user = f"lia{since}"
            for i in range(102):
                await http.post(f"/notify/{user}", params={"message": f"n{i + 1}"})
            async with connect(f"{lab.ws_url}/ws/notifications/{user}?since={since}") as ws:
                assert (await _next(ws))["type"] == "connected"
                await http.post(f"/notify/{user}", params={"message": "live"})
                seen = []
                while (m := await _next(ws)).get("message") != "live":
                    seen.append(m)
            if seen and seen[0]["type"] == "history_lost":
                answers[since] = ("lost", seen[0]["oldest_available"], seen[0]["latest"], len(seen))
            else:
                answers[since] = ("replay", [m["message"] for m in seen][:1], len(seen))
    return answers


@needs_redis
async def test_both_brokers_give_a_resuming_client_the_same_answer(redis_server):
    """The history-lost rule is written once (history.log_lost): the memory log and the Redis log
    agree on every boundary, lost or not, and on the bounds they report."""
    expected = {"0": ("lost", 3, 102, 1), "1": ("lost", 3, 102, 1), "2": ("replay", ["n3"], 100),
                "101": ("replay", ["n102"], 1), "102": ("replay", [], 0), "103": ("lost", 3, 102, 1),
                "99999": ("lost", 3, 102, 1)}
    with LabServer(event_log_size=100, rate_limit=0) as memory:
        assert await _resume_answers(memory) == expected
    with LabServer(event_log_size=100, rate_limit=0, broker=redis_server.url) as shared:
        assert await _resume_answers(shared) == expected


# -- across processes -------------------------------------------------------------------------------
@needs_redis
def test_a_client_recovers_on_the_other_process_behind_redis(redis_server):
    a, b = Node(redis_server.url), Node(redis_server.url)
    try:
        asyncio.run(_recover_across(a, b))
    finally:
        a.stop()
        b.stop()


async def _recover_across(a: Node, b: Node) -> None:
    ann, _ = await join(a.ws_url, "x", "ann")
    kept = await say_all(ann, ["1", "2", "3"])
    await ann.close()  # ann drops after 3 on A
    bob, _ = await join(b.ws_url, "x", "bob")
    await say_all(bob, ["4", "5"])  # sent through B
    ann, history = await join(b.ws_url, "x", "ann", since=kept[-1]["id"])  # ann comes back on B
    assert history["recovered"] is True and texts_of(history["messages"]) == ["4", "5"]
    await say_all(bob, ["6"])
    live = await read_through(ann, "6")  # its own join notice and the old ann's leave notice, then 6
    assert texts_of(live) == ["6"]
    stale, history = await join(a.ws_url, "x", "carl", since="00000000.1-0")
    assert history["recovered"] is False and texts_of(history["messages"]) == ["1", "2", "3", "4", "5", "6"]
    for ws in (ann, bob, stale):
        await ws.close()


@needs_redis
def test_no_gap_and_no_repeat_across_processes_while_readers_hop(redis_server):
    a, b = Node(redis_server.url), Node(redis_server.url)
    total = 90  # within the nodes' default history (100): a hop never falls out of it

    async def run():
        readers = [reconnecting_reader([a.ws_url, b.ws_url], "hop", f"h{i}-", total, i) for i in range(2)]
        return await asyncio.gather(publish_continuously(a.ws_url, "hop", total), *readers)

    try:
        results = asyncio.run(run())
    finally:
        a.stop()
        b.stop()
    for seen in results[1:]:
        assert seen == [str(i) for i in range(total)]
