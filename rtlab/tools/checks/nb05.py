"""Checks of notebook 05 · Rooms: a room of your own, and typing that is for the others only.

Both run with other rooms and other users present, so that a message that reaches the wrong room, or
the wrong user, shows.
"""
from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from urllib.parse import quote, urlencode

from websockets.asyncio.client import connect

from ...server import LabServer, serve
from . import NotYet, exercise, expect


async def join(base: str, room: str, username: str):
    """A chat connection at base/ROOM?username=U whose history has arrived."""
    ws = await connect(f"{base}/{quote(room, safe='')}?{urlencode({'username': username})}")
    await read_until(ws, lambda m: m["type"] == "history")
    return ws


async def read_until(ws, done, seconds: float = 5) -> list[dict]:
    """Messages from ws up to and including the first one for which done(msg) is true."""
    seen: list[dict] = []
    try:
        async with asyncio.timeout(seconds):
            while not seen or not done(seen[-1]):
                seen.append(json.loads(await ws.recv()))
    except TimeoutError:
        raise NotYet(f"no expected message within {seconds:g} s; got {[m.get('type') for m in seen]}") from None
    return seen


async def open_connections_become(lab: LabServer, count: int, what: str, seconds: float = 5) -> None:
    """Wait until the server holds ``count`` open connections (its own counters), or fail."""
    try:
        async with asyncio.timeout(seconds):
            while (s := lab.stats())["accepted"] - s["removed"] != count:
                await asyncio.sleep(0.02)
    except TimeoutError:
        s = lab.stats()
        raise NotYet(f"{what}: {s['accepted'] - s['removed'] - count} of your connections still open "
                     f"{seconds:g} s after your function returned") from None


async def greet_newcomers(ws) -> None:
    """A member who says hello in the room to everyone who joins it."""
    while True:
        message = json.loads(await ws.recv())
        if message.get("type") == "system" and message["message"].endswith(" joined the room"):
            name = message["message"].removesuffix(" joined the room")
            await ws.send(json.dumps({"type": "message", "message": f"hello, {name}"}))


# -- exercise 1 -----------------------------------------------------------------------------
@exercise("room-of-your-own", "a room of your own", timeout=40,
          hint="each member's count is in the announcement of the last user's join, which is not the first "
               "announcement each one sees, nor the only message in between; match its text exactly, and "
               "URL-encode the room (sections 'Clients' and 'Rooms keep their messages to themselves')")
async def room_of_your_own(nb):
    with LabServer() as fresh:  # a fresh server: nothing left over from an earlier attempt
        base = fresh.ws_url + "/ws/chat"
        zed = await join(base, "book club", "zed")  # already in the room; greets each newcomer
        elsewhere = await join(base, "book", "an")  # the same name as the last user, in another room
        greeter = asyncio.ensure_future(greet_newcomers(zed))
        try:
            got = await nb.counts_at_last_join(base, "book club", ["anna", "bo", "an"])
            expect("users_count each member sees when 'an' joins 'book club' (zed was there already)",
                   got, [4, 4, 4])
            await open_connections_become(fresh, 2, "after 'book club'")
            got = await nb.counts_at_last_join(base, "garden", ["cy"])
            expect("users_count when 'cy' joins 'garden' alone", got, [1])
            await open_connections_become(fresh, 2, "after 'garden'")
        finally:
            greeter.cancel()
            with suppress(BaseException):
                await greeter
            for ws in (zed, elsewhere):
                await ws.close()


# -- exercise 2 -----------------------------------------------------------------------------
class Inbox:
    """A stand-in for a WebSocket: it keeps what it is sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.got: list[dict] = []

    async def send_json(self, message) -> None:
        self.got.append(message)

    def __repr__(self) -> str:
        return self.name


class Leaver(Inbox):
    """A stand-in that leaves its room while a typing event is being sent to it, as a closing connection's
    handler may (the room's set of members changes during the send)."""

    def __init__(self, name: str, chat, room: str) -> None:
        super().__init__(name)
        self.chat, self.room = chat, room

    async def send_json(self, message) -> None:
        await super().send_json(message)
        if message.get("type") == "typing":
            self.chat.remove(self.room, self)


def kinds(messages) -> list[str]:
    return [m["type"] for m in messages if m["type"] in ("typing", "message")]


TYPING = {"type": "typing", "username": "tia"}
DONE = {"type": "message", "username": "tia", "message": "done"}


@exercise("typing-for-the-others", "typing is for the others", timeout=40,
          hint="a typing event goes once to each other member of the typist's room, under the name of the "
               "connection's user, and to no one else: not back to the typist, not to other rooms, not into the "
               "history; members may leave while you send; every other message is Chat's "
               "(sections 'Rooms keep their messages to themselves' and 'Your room manager')")
async def typing_for_the_others(nb):
    # Called directly: two rooms, stand-in sockets that keep what they are sent; lee leaves the room while
    # the typing event is sent to it (a closing connection's handler runs during the send), and tia's typing
    # message claims another user's name.
    chat = nb.TypingChat(nb.BoundedHistory(10))
    tia, rex, sam, lou = Inbox("tia"), Inbox("rex"), Inbox("sam"), Inbox("lou")
    lee = Leaver("lee", chat, "quiet")
    for room, ws in (("quiet", tia), ("quiet", rex), ("quiet", lee), ("quiet", sam), ("loud", lou)):
        await chat.on_join(room, ws, ws.name)
    for ws in (tia, rex, sam, lou, lee):
        ws.got.clear()
    try:
        await chat.on_message("quiet", tia, "tia", {"type": "typing", "username": "sam"})
    except NotImplementedError:
        raise  # the stub, still there
    except RuntimeError as exc:
        raise NotYet(f"on_message raised {exc!r} when a member (lee) left the room during the typing event's "
                     "sends (a room's members can change while you await a send)") from None
    await chat.on_message("quiet", tia, "tia", {"type": "message", "message": "done"})
    for ws in (rex, sam):
        expect(f"what {ws}, in tia's room, got (tia's typing message claimed to be sam's)", ws.got, [TYPING, DONE])
    expect("what lee, who left during the typing event, got", lee.got, [TYPING])
    expect("what tia, the typist, got", tia.got, [DONE])
    expect("what lou, in another room, got", lou.got, [])
    expect("the room's history", list(chat.history.recent("quiet")), [DONE])

    # Served, with real clients: tia and rex in 'quiet', lou in 'loud'.
    live = serve(nb.chat_app(nb.TypingChat(nb.BoundedHistory(10)), title="check: typing"))
    base, sockets = live.ws_url + "/chat", []
    try:
        for room, user in (("quiet", "tia"), ("quiet", "rex"), ("loud", "lou")):
            sockets.append(await join(base, room, user))
        tia_ws, rex_ws, lou_ws = sockets
        await tia_ws.send(json.dumps({"type": "typing"}))
        await tia_ws.send(json.dumps({"type": "message", "message": "done"}))
        seen = await read_until(rex_ws, lambda m: m.get("message") == "done")
        expect("what rex got over the network", kinds(seen), ["typing", "message"])
        seen = await read_until(tia_ws, lambda m: m.get("message") == "done")
        expect("what tia, the typist, got over the network", kinds(seen), ["message"])
        # Whatever tia's typing sent lou, it was sent before "done" reached rex: lou's own message comes after it.
        await lou_ws.send(json.dumps({"type": "message", "message": "(marker)"}))
        seen = await read_until(lou_ws, lambda m: m.get("message") == "(marker)")
        expect("what lou, in another room, got over the network", kinds(seen), ["message"])
    finally:
        for ws in sockets:
            with suppress(Exception):
                await ws.close()
        await asyncio.to_thread(live.stop)
