"""Variants of the exercises of notebooks/05_rooms.ipynb: wrong ones (must get "not yet") and valid
ones in another style (must get "passed"). Each section is the whole exercise cell."""

# %% wrong: room-of-your-own: matches the announcement with startswith(name): "anna joined the room" starts with "an"
async def counts_at_last_join(base: str, room: str, users: list[str]) -> list[int]:
    """Join `users` to `room` in order; for each, the users_count announced when the last one joins."""
    members = [await join(base, room, user) for user in users]
    counts = []
    for ws in members:
        seen = await read_until(ws, lambda m: m["type"] == "system" and m["message"].startswith(users[-1]))
        counts.append(seen[-1]["users_count"])
    for ws in members:
        await ws.close()
    return counts

# %% wrong: room-of-your-own: the room is not URL-encoded ("book club" has a space: the handshake is refused)
async def counts_at_last_join(base: str, room: str, users: list[str]) -> list[int]:
    """Join `users` to `room` in order; for each, the users_count announced when the last one joins."""
    members = [await connect(f"{base}/{room}?username={user}") for user in users]
    announcement = f"{users[-1]} joined the room"
    counts = []
    for ws in members:
        seen = await read_until(ws, lambda m: m["type"] == "system" and m["message"] == announcement)
        counts.append(seen[-1]["users_count"])
    for ws in members:
        await ws.close()
    return counts

# %% wrong: room-of-your-own: each member's count from its own join announcement, as the sample run printed it
async def counts_at_last_join(base: str, room: str, users: list[str]) -> list[int]:
    """Join `users` to `room` in order; for each, the users_count announced when the last one joins."""
    counts = []
    members = []
    for user in users:
        ws = await join(base, room, user)
        members.append(ws)
        seen = await read_until(ws, lambda m: m["type"] == "system")
        counts.append(seen[-1]["users_count"])
    for ws in members:
        await ws.close()
    return counts

# %% wrong: room-of-your-own: reads a fixed number of messages (a join notice per later user), as if no one talked
async def counts_at_last_join(base: str, room: str, users: list[str]) -> list[int]:
    """Join `users` to `room` in order; for each, the users_count announced when the last one joins."""
    members = [await join(base, room, user) for user in users]
    counts = []
    for i, ws in enumerate(members):
        await ws.recv()  # the history
        for _ in range(len(users) - i):
            last = json.loads(await asyncio.wait_for(ws.recv(), 5))
        counts.append(last["users_count"])
    for ws in members:
        await ws.close()
    return counts

# %% wrong: room-of-your-own: forgets to close the connections
async def counts_at_last_join(base: str, room: str, users: list[str]) -> list[int]:
    """Join `users` to `room` in order; for each, the users_count announced when the last one joins."""
    members = [await join(base, room, user) for user in users]
    announcement = f"{users[-1]} joined the room"
    counts = []
    for ws in members:
        seen = await read_until(ws, lambda m: m["type"] == "system" and m["message"] == announcement)
        counts.append(seen[-1]["users_count"])
    return counts

# %% valid: room-of-your-own: every member read at once with gather, connections closed by an AsyncExitStack
import contextlib


async def counts_at_last_join(base: str, room: str, users: list[str]) -> list[int]:
    """Join `users` to `room` in order; for each, the users_count announced when the last one joins."""
    wanted = users[-1] + " joined the room"

    async def count_of(ws) -> int:
        async with asyncio.timeout(5):
            while True:
                m = json.loads(await ws.recv())
                if m.get("type") == "system" and m.get("message") == wanted:
                    return m["users_count"]

    async with contextlib.AsyncExitStack() as stack:
        members = []
        for user in users:
            url = f"{base}/{quote(room, safe='')}?username={quote(user, safe='')}"
            members.append(await stack.enter_async_context(connect(url)))
        return list(await asyncio.gather(*(count_of(ws) for ws in members)))

# %% wrong: typing-for-the-others: sends the typing event to every room on the server
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") == "typing":
            for name in list(self.rooms):
                await self.broadcast(name, {"type": "typing", "username": username}, exclude=ws)
        else:
            await super().on_message(room, ws, username, data)

# %% wrong: typing-for-the-others: sends it back to the typist too (no exclude)
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") == "typing":
            await self.broadcast(room, {"type": "typing", "username": username})
        else:
            await super().on_message(room, ws, username, data)

# %% wrong: typing-for-the-others: no else: the typing event also goes on to Chat's on_message
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") == "typing":
            await self.broadcast(room, {"type": "typing", "username": username}, exclude=ws)
        await super().on_message(room, ws, username, data)

# %% wrong: typing-for-the-others: passes the client's message on as it came, without the username
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") == "typing":
            await self.broadcast(room, data, exclude=ws)
        else:
            await super().on_message(room, ws, username, data)

# %% wrong: typing-for-the-others: every message goes to the others only, chat messages too
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") == "typing":
            await self.broadcast(room, {"type": "typing", "username": username}, exclude=ws)
        else:
            message = {"type": "message", "username": username, "message": data["message"]}
            self.history.add(room, message)
            await self.broadcast(room, message, exclude=ws)

# %% valid: typing-for-the-others: an early return for the rest, and the room's members sent to directly
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") != "typing":
            return await super().on_message(room, ws, username, data)
        for member in list(self.rooms.get(room, ())):
            if member is not ws:
                await member.send_json({"type": "typing", "username": username})

# %% wrong: typing-for-the-others: the client's message spread under the username, so a client can type as someone else
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") == "typing":
            await self.broadcast(room, {"username": username, **data}, exclude=ws)
        else:
            await super().on_message(room, ws, username, data)

# %% wrong: typing-for-the-others: loops over the live set of members (one who leaves during a send breaks the loop)
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") != "typing":
            await super().on_message(room, ws, username, data)
            return
        for member in self.rooms[room]:
            if member is not ws:
                await member.send_json({"type": "typing", "username": username})

# %% wrong: typing-for-the-others: excludes by the user's name, which broadcast compares with each connection
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") == "typing":
            await self.broadcast(room, {"type": "typing", "username": username}, exclude=username)
        else:
            await super().on_message(room, ws, username, data)

# %% valid: typing-for-the-others: a match statement, the others sent to at once with gather over a snapshot
import asyncio


class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        match data:
            case {"type": "typing"}:
                others = [m for m in self.rooms.get(room, set()) if m is not ws]
                await asyncio.gather(*(m.send_json({"type": "typing", "username": username}) for m in others))
            case _:
                await super().on_message(room, ws, username, data)
