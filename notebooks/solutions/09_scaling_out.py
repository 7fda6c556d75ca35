"""Solutions to the exercises of notebooks/09_scaling_out.ipynb (one section per exercise cell)."""

# %% exercise: not-to-self
class NotToSelf(RedisRooms):
    """RedisRooms whose messages reach everyone in the room except their sender, on every server."""

    def __init__(self, url: str):
        super().__init__(url)
        self.server_id = uuid.uuid4().hex  # tells this server's envelopes from the others'

    async def broadcast(self, room: str, message: dict, sender: WebSocket):
        envelope = {"room": room, "message": message, "server": self.server_id, "sender": id(sender)}
        await self.redis.publish(CHANNEL, json.dumps(envelope))

    async def listen(self):
        async for event in self.pubsub.listen():
            if event["type"] == "message":
                envelope = json.loads(event["data"])
                room, skip = envelope["room"], None
                if envelope["server"] == self.server_id:  # the sender is one of our sockets
                    skip = next((ws for ws in self.rooms.get(room, ()) if id(ws) == envelope["sender"]), None)
                await self.deliver(room, envelope["message"], skip=skip)

# %% exercise: count-across
class CountedRooms(RedisRooms):
    """RedisRooms whose member count is kept in Redis, the same from every server."""

    async def join(self, room: str, ws: WebSocket):
        await super().join(room, ws)
        await self.redis.hincrby("members", room, 1)

    async def leave(self, room: str, ws: WebSocket):
        await super().leave(room, ws)
        await self.redis.hincrby("members", room, -1)

    async def count(self, room: str) -> int:
        return int(await self.redis.hget("members", room) or 0)
