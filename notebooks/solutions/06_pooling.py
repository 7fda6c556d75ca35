"""Solutions to the exercises of notebooks/06_pooling.ipynb (one section per exercise cell)."""

# %% exercise: hold-the-line
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}  # user → that user's lock

    async def add(self, user: str, ws: WebSocket) -> bool:
        lock = self.locks.setdefault(user, asyncio.Lock())
        async with lock:  # the next connect of this user waits here until we have added (or refused)
            if len(self.of(user)) >= self.limit:
                return False
            await self.lookup(user)
            self.connections.setdefault(user, []).append(ws)
            return True

# %% exercise: newest-wins
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        await self.lookup(user)
        mine = self.connections.setdefault(user, [])
        mine.append(ws)
        oldest = mine.pop(0) if len(mine) > self.limit else None  # state first, in the same step...
        if oldest is not None:
            await oldest.close(code=1008, reason="Replaced by a newer connection")  # ...then await
        return True
