"""Checks of notebook 09 (scaling out): not back to the sender, and a member count across servers.

Two servers in one kernel can share what two processes never can (a class attribute, a module's dict),
so the count check reads the shared state from outside: with a Redis client of its own, from a server
on another Redis database (which must not see the count), and after writing to Redis itself, as a third
server would. The not-to-self check has members of the room on both servers, the sender's included, and
members of another room, so that a message that comes back, goes missing or leaks is seen.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import suppress
from urllib.parse import quote

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from rtlab import serve

from . import NotYet, exercise, expect


def _redis_url(nb) -> str:
    if "redis_server" not in nb or nb.redis_server is None:
        raise NotYet("this check needs the notebook's redis-server (section 'A Redis of our own')")
    return nb.redis_server.url


async def _member(server, room: str, username: str):
    ws = await connect(f"{server.ws_url}/chat/{quote(room, safe='')}?username={quote(username, safe='')}")
    async with asyncio.timeout(5):
        joined = json.loads(await ws.recv())
    if joined.get("type") != "joined":
        raise NotYet(f"{username} joining {room!r}: expected the 'joined' message first, got {joined}")
    return ws


async def _next_text(ws, seconds: float = 5) -> list[str]:
    """The text of the next message, in a list; [] when none came within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return [json.loads(await ws.recv())["message"]]
    except TimeoutError:
        return []


async def _before_end(ws, seconds: float = 5) -> list[str]:
    got = []
    try:
        async with asyncio.timeout(seconds):
            while (text := json.loads(await ws.recv())["message"]) != "end":
                got.append(text)
    except TimeoutError:
        raise NotYet(f"no 'end' came within {seconds:g} s; before it: {got}") from None
    return got


@exercise("not-to-self", "not back to the sender",
          hint="which sockets each server delivers an envelope to: the sender's own server must skip the "
               "sender and only it, and the other servers skip nobody, even a socket whose id() matches; a sender "
               "that has left is no reason to stop (section 'The bridge', and the exercise's statement on `skip=`)")
async def not_to_self(nb):
    url = _redis_url(nb)
    a_rooms = nb.NotToSelf(url)
    a_side = serve(nb.chat_app(a_rooms), name="not to self A")
    b_side = serve(nb.chat_app(nb.NotToSelf(url)), name="not to self B")
    sockets = []
    try:
        tea, coffee = f"tea-{uuid.uuid4().hex[:6]}", f"coffee-{uuid.uuid4().hex[:6]}"
        for server, room, name in ((a_side, tea, "ann"), (a_side, tea, "bob"), (b_side, tea, "cy"),
                                   (a_side, coffee, "dee"), (b_side, coffee, "eve")):
            sockets.append(await _member(server, room, name))
        ann, bob, cy, dee, eve = sockets
        rounds = ((ann, "hi", {"bob": bob, "cy": cy}), (cy, "hello", {"ann": ann, "bob": bob}),
                  (bob, "bye", {"cy": cy, "ann": ann}), (ann, "again", {"bob": bob, "cy": cy}),
                  (cy, "last", {"ann": ann, "bob": bob}))
        for sender, text, readers in rounds:
            await sender.send(text)
            for name, ws in readers.items():  # a sender's own copy would come before the next one it reads
                expect(f"{name}'s next message in {tea.split('-')[0]!r} (after {text!r} was sent)",
                       await _next_text(ws), [text])
        # A third server, whose sender's socket has the id() of one of A's: in two processes, two sockets can.
        await _from_a_look_alike(nb, url, tea, next(iter(a_rooms.rooms[tea])), {"ann": ann, "bob": bob, "cy": cy})
        await dee.send("end")  # published after every message of the other room
        expect("what eve (server B, another room) received before dee's 'end'", await _before_end(eve), [])
        expect("what dee (who sent the 'end') received back within 0.5 s", await _next_text(dee, 0.5), [])
    finally:
        for ws in sockets:
            await ws.close()
        a_side.stop()
        b_side.stop()
    await _sender_gone(nb, url)


async def _from_a_look_alike(nb, url: str, room: str, twin, readers: dict) -> None:
    third = nb.NotToSelf(url)
    await third.start()
    try:
        await third.broadcast(room, {"username": "zed", "message": "from a third server"}, sender=twin)
        for name, ws in readers.items():
            expect(f"{name}'s next message, sent from a third server by a socket whose id() is that of one of "
                   "server A's sockets (ids are unique in one process, not across servers)",
                   await _next_text(ws), ["from a third server"])
    finally:
        await third.stop()


class _Inbox:
    """A stand-in socket that keeps the texts it is sent."""

    def __init__(self) -> None:
        self.got: list[str] = []
        self.changed = asyncio.Event()

    async def send_json(self, message) -> None:
        self.got.append(message["message"])
        self.changed.set()

    async def holds(self, n: int, seconds: float = 5) -> list[str]:
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while len(self.got) < n:
                    self.changed.clear()
                    await self.changed.wait()
        return list(self.got)


async def _sender_gone(nb, url: str) -> None:
    """A sender that leaves right after sending (its close was already on the way): the rest still hear it."""
    rooms = nb.NotToSelf(url)
    await rooms.start()
    try:
        room = f"porch-{uuid.uuid4().hex[:6]}"
        leaver, stayer, other = _Inbox(), _Inbox(), _Inbox()
        for ws in (leaver, stayer, other):
            await rooms.join(room, ws)
        await rooms.broadcast(room, {"username": "lee", "message": "bye now"}, sender=leaver)
        await rooms.leave(room, leaver)  # before its message has come back from Redis
        await rooms.broadcast(room, {"username": "oz", "message": "still here?"}, sender=other)
        expect("what a member got after a sender who left at once, then another member, sent a message each",
               await stayer.holds(2), ["bye now", "still here?"])
    finally:
        await rooms.stop()


async def _counted_everywhere(room: str, servers: list, expected: int) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        try:
            async with asyncio.timeout(5):  # a leave is counted moments after the close
                while (seen := [(await client.get(f"{s.url}/rooms/{room}")).json()["count"] for s in servers]) \
                        != [expected] * len(servers):
                    await asyncio.sleep(0.02)
        except TimeoutError:
            raise NotYet(f"GET /rooms/ROOM on servers A and B: expected {expected} on both, got {seen}") from None


PAUSE_MS = 1500  # the joins' reads, new connections included, take milliseconds: a margin of 100× and more


@exercise("count-across", "count across servers",
          hint="where the count lives: in Redis, under the hash the statement names, read back from Redis on "
               "every call, changed in one step by Redis itself (a count read and written back loses joins made at the "
               "same time; a class attribute or a dict is shared by two apps in one kernel, never by two "
               "processes: section 'One chat, two servers'); and what hget gives back")
async def count_across(nb):
    url = _redis_url(nb)
    other_db = url.rsplit("/", 1)[0] + "/1"  # the same redis-server, another database
    rooms_class = nb.CountedRooms
    room = f"garden-{uuid.uuid4().hex[:8]}"
    own = aioredis.from_url(url, decode_responses=True)  # the check's own client
    one, two, elsewhere = rooms_class(url), rooms_class(url), rooms_class(other_db)
    started = []
    try:
        for rooms in (one, two, elsewhere):
            await rooms.start()
            started.append(rooms)
        expect("count() of a room nobody joined", await one.count(room), 0)
        socks = [object() for _ in range(3)]  # stand-ins for sockets: a count never writes to them
        # Joined at the same time, as members of two servers do: a count read, then written back, loses joins.
        # Made certain, not lucky: Redis holds every write for a moment (CLIENT PAUSE ... WRITE) while reads go
        # on, so each join's read comes before any join's write, whatever the schedule.
        await own.client_pause(PAUSE_MS, all=False)
        try:
            await asyncio.gather(one.join(room, socks[0]), one.join(room, socks[1]), two.join(room, socks[2]))
        finally:
            await own.execute_command("CLIENT", "UNPAUSE")
        expect("count() on each server (2 members on one, 1 on the other, all joined at the same time)",
               [await one.count(room), await two.count(room)], [3, 3])
        expect(f"HGET members {room}, read by a Redis client of the check's own", await own.hget("members", room), "3")
        expect("count() on a server of another Redis database, where nobody joined", await elsewhere.count(room), 0)
        await own.hincrby("members", room, 2)  # two members joined on other servers
        expect("count() on each server after HINCRBY members ROOM 2 from outside (two members elsewhere)",
               [await one.count(room), await two.count(room)], [5, 5])
        await own.hincrby("members", room, -2)
        await two.leave(room, socks[2])
        expect("count() on each server after one member left",
               [await one.count(room), await two.count(room)], [2, 2])
        expect(f"HGET members {room} after one member left", await own.hget("members", room), "2")
    finally:
        for rooms in started:
            await rooms.stop()
        await own.aclose()

    a_side = serve(nb.chat_app(rooms_class(url)), name="counted A")
    b_side = serve(nb.chat_app(rooms_class(url)), name="counted B")
    room, servers, sockets = f"lawn-{uuid.uuid4().hex[:8]}", [a_side, b_side], []
    try:
        for server, name in ((a_side, "ann"), (a_side, "bob"), (b_side, "cy")):
            sockets.append(await _member(server, room, name))
        ann, bob, cy = sockets
        await ann.send("still delivered?")
        expect("cy's next message (server B)", await _next_text(cy), ["still delivered?"])
        await _counted_everywhere(room, servers, 3)
        await bob.close()
        await _counted_everywhere(room, servers, 2)
    finally:
        for ws in sockets:
            await ws.close()
        a_side.stop()
        b_side.stop()
