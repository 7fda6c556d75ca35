# Variants of the exercises of 09_scaling_out.ipynb: wrong solutions learners write (each must get
# "not yet") and valid ones in another style (each must get "passed"). tests/test_exercises.py runs them.

# %% wrong: not-to-self: gives the server an id, puts it in the envelope, and still delivers to everyone
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        envelope = {"room": room, "message": message, "server": self.server_id, "sender": id(sender)}
        await self.redis.publish(CHANNEL, json.dumps(envelope))

# %% wrong: not-to-self: delivers locally with skip= and publishes, and every listener delivers everything
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        await self.deliver(room, message, skip=sender)
        await self.redis.publish(CHANNEL, json.dumps({"room": room, "message": message, "server": self.server_id}))

# %% wrong: not-to-self: drops its own server's envelopes (the sender's neighbours on that server get nothing)
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        await self.redis.publish(CHANNEL, json.dumps({"room": room, "message": message, "server": self.server_id}))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] == "message":
                envelope = json.loads(event["data"])
                if envelope["server"] != self.server_id:
                    await self.deliver(envelope["room"], envelope["message"])

# %% wrong: not-to-self: makes the server id in broadcast, anew for every message (it never matches)
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        envelope = {"room": room, "message": message, "server": uuid.uuid4().hex, "sender": id(sender)}
        await self.redis.publish(CHANNEL, json.dumps(envelope))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] == "message":
                envelope = json.loads(event["data"])
                room, skip = envelope["room"], None
                if envelope["server"] == self.server_id:
                    skip = next((ws for ws in self.rooms.get(room, ()) if id(ws) == envelope["sender"]), None)
                await self.deliver(room, envelope["message"], skip=skip)

# %% wrong: not-to-self: looks for the sender in every room, and delivers to every room it looks in
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        envelope = {"room": room, "message": message, "server": self.server_id, "sender": id(sender)}
        await self.redis.publish(CHANNEL, json.dumps(envelope))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] == "message":
                envelope = json.loads(event["data"])
                ours = envelope["server"] == self.server_id
                for room, members in list(self.rooms.items()):
                    for ws in list(members):
                        if not (ours and id(ws) == envelope["sender"]):
                            await ws.send_json(envelope["message"])

# %% valid: not-to-self: delivers to its own sockets at once (skipping the sender), and ignores its own envelopes
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.me = uuid.uuid4().hex

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        await self.deliver(room, message, skip=sender)  # this server's members, now
        await self.redis.publish(CHANNEL, json.dumps({"from": self.me, "room": room, "message": message}))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] != "message":
                continue
            envelope = json.loads(event["data"])
            if envelope["from"] != self.me:  # ours were delivered already
                await self.deliver(envelope["room"], envelope["message"])

# %% wrong: count-across: a class-level dict, no Redis (two apps in one kernel share it; two processes never do)
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    counts: dict[str, int] = {}  # one dict for every instance of the class

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        self.counts[room] = self.counts.get(room, 0) + 1

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        self.counts[room] = self.counts.get(room, 0) - 1

    async def count(self, room: str) -> int:
        return self.counts.get(room, 0)

# %% wrong: count-across: returns what hget gives, as it is (a string, or None)
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        await self.redis.hincrby("members", room, 1)

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        await self.redis.hincrby("members", room, -1)

    async def count(self, room: str) -> int:
        return await self.redis.hget("members", room)

# %% wrong: count-across: int() of hget without a default (a room nobody joined raises TypeError)
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        await self.redis.hincrby("members", room, 1)

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        await self.redis.hincrby("members", room, -1)

    async def count(self, room: str) -> int:
        return int(await self.redis.hget("members", room))

# %% wrong: count-across: each server writes its own local count into Redis (the last writer wins)
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        await self.redis.hset("members", room, len(self.rooms[room]))

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        await self.redis.hset("members", room, len(self.rooms.get(room, ())))

    async def count(self, room: str) -> int:
        return int(await self.redis.hget("members", room) or 0)

# %% wrong: count-across: counts in Redis but forgets the local join (this server's sockets get nothing)
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def join(self, room: str, ws: WebSocket):
        await self.redis.hincrby("members", room, 1)

    async def leave(self, room: str, ws: WebSocket):
        await self.redis.hincrby("members", room, -1)

    async def count(self, room: str) -> int:
        return int(await self.redis.hget("members", room) or 0)

# %% wrong: count-across: keeps the count it last read from Redis, and reads Redis only once per room
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.known: dict[str, int] = {}

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        self.known[room] = await self.redis.hincrby("members", room, 1)

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        self.known[room] = await self.redis.hincrby("members", room, -1)

    async def count(self, room: str) -> int:
        if room not in self.known:
            self.known[room] = int(await self.redis.hget("members", room) or 0)
        return self.known[room]

# %% valid: count-across: keyword arguments, HINCRBY's answer unused, hmget and an explicit None test
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        await self.redis.hincrby(name="members", key=room, amount=1)

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        await self.redis.hincrby(name="members", key=room, amount=-1)

    async def count(self, room: str) -> int:
        (value,) = await self.redis.hmget("members", [room])
        return 0 if value is None else int(value)

# %% wrong: not-to-self: no server id: every server skips the socket with the sender's id() (unique per process only)
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex  # made, but an id() is unique enough... in one kernel

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        await self.redis.publish(CHANNEL, json.dumps({"room": room, "message": message, "sender": id(sender)}))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] == "message":
                envelope = json.loads(event["data"])
                room = envelope["room"]
                skip = next((ws for ws in self.rooms.get(room, ()) if id(ws) == envelope["sender"]), None)
                await self.deliver(room, envelope["message"], skip=skip)

# %% wrong: not-to-self: the server id as a class attribute (every server of the kernel gets the same one)
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    server_id = uuid.uuid4().hex

    def __init__(self, url: str):
        super().__init__(url)

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        envelope = {"room": room, "message": message, "server": self.server_id, "sender": id(sender)}
        await self.redis.publish(CHANNEL, json.dumps(envelope))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] == "message":
                envelope = json.loads(event["data"])
                room, skip = envelope["room"], None
                if envelope["server"] == self.server_id:
                    skip = next((ws for ws in self.rooms.get(room, ()) if id(ws) == envelope["sender"]), None)
                await self.deliver(room, envelope["message"], skip=skip)

# %% wrong: not-to-self: next() with no default finds the sender (a sender already gone stops the listener)
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        envelope = {"room": room, "message": message, "server": self.server_id, "sender": id(sender)}
        await self.redis.publish(CHANNEL, json.dumps(envelope))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] == "message":
                envelope = json.loads(event["data"])
                room, skip = envelope["room"], None
                if envelope["server"] == self.server_id:
                    skip = next(ws for ws in self.rooms[room] if id(ws) == envelope["sender"])
                await self.deliver(room, envelope["message"], skip=skip)

# %% valid: not-to-self: each message gets a key; this server keeps its sender under it, popped when it comes back
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex
        self.outgoing: dict[str, WebSocket] = {}  # message id → the socket that sent it (ours only)

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        key = uuid.uuid4().hex
        self.outgoing[key] = sender
        await self.redis.publish(CHANNEL, json.dumps({"room": room, "message": message, "key": key}))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] != "message":
                continue
            envelope = json.loads(event["data"])
            await self.deliver(envelope["room"], envelope["message"], skip=self.outgoing.pop(envelope["key"], None))

# %% wrong: count-across: reads the count, adds one, writes it back (two joins at once both write the same number)
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        n = int(await self.redis.hget("members", room) or 0)
        await self.redis.hset("members", room, n + 1)

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        n = int(await self.redis.hget("members", room) or 0)
        await self.redis.hset("members", room, n - 1)

    async def count(self, room: str) -> int:
        return int(await self.redis.hget("members", room) or 0)

# %% wrong: count-across: a WATCH-less MULTI around the read and the write (the read is still outside the transaction)
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def change(self, room: str, by: int) -> None:
        n = int(await self.redis.hget("members", room) or 0)
        async with self.redis.pipeline(transaction=True) as tx:
            tx.hset("members", room, n + by)
            await tx.execute()

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        await self.change(room, 1)

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        await self.change(room, -1)

    async def count(self, room: str) -> int:
        return int(await self.redis.hget("members", room) or 0)

# %% valid: count-across: the local change and HINCRBY in one helper, raw commands through execute_command
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def _counted(self, room: str, by: int) -> None:
        await self.redis.execute_command("HINCRBY", "members", room, by)

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        await self._counted(room, +1)

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        await self._counted(room, -1)

    async def count(self, room: str) -> int:
        value = await self.redis.execute_command("HGET", "members", room)
        return 0 if value is None else int(value)
