"""Variants of the exercises of notebooks/06_pooling.ipynb: wrong ones (must get "not yet") and valid
ones in another style (must get "passed"). Each section is the whole exercise cell."""

# %% wrong: hold-the-line: one global lock for every user (one user's slow lookup holds every other user's connect)
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}
        self.lock = asyncio.Lock()

    async def add(self, user: str, ws: WebSocket) -> bool:
        async with self.lock:
            if len(self.of(user)) >= self.limit:
                return False
            await self.lookup(user)
            self.connections.setdefault(user, []).append(ws)
            return True

# %% wrong: hold-the-line: check, await the lookup, then add, with no lock at all (the naive race)
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        return await super().add(user, ws)

# %% wrong: hold-the-line: locks.get(user, asyncio.Lock()) makes a new lock on every call, never stored
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        async with self.locks.get(user, asyncio.Lock()):
            if len(self.of(user)) >= self.limit:
                return False
            await self.lookup(user)
            self.connections.setdefault(user, []).append(ws)
            return True

# %% wrong: hold-the-line: the lock covers the add only; the check is made before it, outside
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        if len(self.of(user)) >= self.limit:
            return False
        await self.lookup(user)
        async with self.locks.setdefault(user, asyncio.Lock()):
            self.connections.setdefault(user, []).append(ws)
        return True

# %% wrong: hold-the-line: acquire() and release() with no try/finally (a lookup that raises keeps the lock)
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        lock = self.locks.setdefault(user, asyncio.Lock())
        await lock.acquire()
        if len(self.of(user)) >= self.limit:
            lock.release()
            return False
        await self.lookup(user)
        self.connections.setdefault(user, []).append(ws)
        lock.release()
        return True

# %% wrong: hold-the-line: > instead of >= (one connection over the limit gets in)
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        async with self.locks.setdefault(user, asyncio.Lock()):
            if len(self.of(user)) > self.limit:
                return False
            await self.lookup(user)
            self.connections.setdefault(user, []).append(ws)
            return True

# %% valid: hold-the-line: the lock made on first use with an if, taken with acquire() and released in finally
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        if user not in self.locks:
            self.locks[user] = asyncio.Lock()
        lock = self.locks[user]
        await lock.acquire()
        try:
            full = len(self.of(user)) >= self.limit
            if not full:
                await self.lookup(user)
                self.connections.setdefault(user, []).append(ws)
            return not full
        finally:
            lock.release()

# %% valid: hold-the-line: the lock around NaivePool's own add (the same check, lookup and add, serialised)
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        async with self.locks.setdefault(user, asyncio.Lock()):
            return await super().add(user, ws)

# %% wrong: newest-wins: awaits the oldest's close before changing the pool (concurrent connects pick the same oldest)
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        await self.lookup(user)
        mine = self.connections.setdefault(user, [])
        if len(mine) >= self.limit:
            await mine[0].close(code=1008, reason="Replaced by a newer connection")
            mine.pop(0)
        mine.append(ws)
        return True

# %% wrong: newest-wins: checks the count before the lookup, acts after it (check-then-act across an await)
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        full = len(self.of(user)) >= self.limit
        await self.lookup(user)
        mine = self.connections.setdefault(user, [])
        mine.append(ws)
        if full:
            oldest = mine.pop(0)
            await oldest.close(code=1008, reason="Replaced by a newer connection")
        return True

# %% wrong: newest-wins: closes the oldest but leaves it in the pool (the endpoint's remove() is left to do it)
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        await self.lookup(user)
        mine = self.connections.setdefault(user, [])
        if len(mine) >= self.limit:
            await mine[0].close(code=1008, reason="Replaced by a newer connection")
        mine.append(ws)
        return True

# %% wrong: newest-wins: closes one at the limit already (>= after the append: the pool keeps limit - 1)
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        await self.lookup(user)
        mine = self.connections.setdefault(user, [])
        mine.append(ws)
        if len(mine) >= self.limit:
            oldest = mine.pop(0)
            await oldest.close(code=1008, reason="Replaced by a newer connection")
        return True

# %% wrong: newest-wins: appends to self.of(user), a copy, so the pool never changes
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        await self.lookup(user)
        mine = self.of(user)
        mine.append(ws)
        if len(mine) > self.limit:
            await mine.pop(0).close(code=1008, reason="Replaced by a newer connection")
        return True

# %% valid: newest-wins: the pool's list rebuilt in one step, the replaced ones closed afterwards
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        await self.lookup(user)
        everyone = self.of(user) + [ws]
        replaced, self.connections[user] = everyone[:-self.limit], everyone[-self.limit:]
        for old in replaced:
            await old.close(code=1008, reason="Replaced by a newer connection")
        return True

# %% wrong: hold-the-line: forgets the user's lock after each add (a later connect makes a new one while others wait)
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Lock] = {}  # user → that user's lock

    async def add(self, user: str, ws: WebSocket) -> bool:
        lock = self.locks.setdefault(user, asyncio.Lock())
        try:
            async with lock:
                if len(self.of(user)) >= self.limit:
                    return False
                await self.lookup(user)
                self.connections.setdefault(user, []).append(ws)
                return True
        finally:
            self.locks.pop(user, None)  # don't keep a lock for every user ever seen

# %% wrong: hold-the-line: a Semaphore(limit) per user, as if it counted the connections
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict[str, asyncio.Semaphore] = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        async with self.locks.setdefault(user, asyncio.Semaphore(self.limit)):
            if len(self.of(user)) >= self.limit:
                return False
            await self.lookup(user)
            self.connections.setdefault(user, []).append(ws)
            return True

# %% wrong: hold-the-line: a lock per connection (keyed by user and socket), so nothing is ever shared
class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks: dict = {}

    async def add(self, user: str, ws: WebSocket) -> bool:
        async with self.locks.setdefault((user, id(ws)), asyncio.Lock()):
            if len(self.of(user)) >= self.limit:
                return False
            await self.lookup(user)
            self.connections.setdefault(user, []).append(ws)
            return True

# %% valid: hold-the-line: self.locks a defaultdict, and the check made again after the lookup (double-checked)
from collections import defaultdict


class LockedPool(NaivePool):
    """NaivePool, with the check, the lookup and the add under a lock per user."""

    def __init__(self, limit: int = 3, lookup=load_profile):
        super().__init__(limit, lookup)
        self.locks = defaultdict(asyncio.Lock)

    async def add(self, user: str, ws: WebSocket) -> bool:
        if len(self.of(user)) >= self.limit:  # a quick no, without waiting for the lock
            return False
        async with self.locks[user]:
            if len(self.of(user)) >= self.limit:
                return False
            await self.lookup(user)
            self.connections.setdefault(user, []).append(ws)
        return True

# %% wrong: newest-wins: copies the list before the lookup, stores it after (concurrent connects overwrite it)
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        mine = self.of(user)
        await self.lookup(user)
        mine.append(ws)
        oldest = mine.pop(0) if len(mine) > self.limit else None
        self.connections[user] = mine
        if oldest is not None:
            await oldest.close(code=1008, reason="Replaced by a newer connection")
        return True

# %% wrong: newest-wins: pop() takes the last of the list, which is the connection just added
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        await self.lookup(user)
        mine = self.connections.setdefault(user, [])
        mine.append(ws)
        if len(mine) > self.limit:
            await mine.pop().close(code=1008, reason="Replaced by a newer connection")
        return True

# %% wrong: newest-wins: the pool changed first, the lookup last (a failed lookup has closed the oldest already)
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        mine = self.connections.setdefault(user, [])
        mine.append(ws)
        oldest = mine.pop(0) if len(mine) > self.limit else None  # no await before the pool is right...
        if oldest is not None:
            await oldest.close(code=1008, reason="Replaced by a newer connection")
        await self.lookup(user)  # ...so the lookup comes last
        return True

# %% valid: newest-wins: room made before the append (>= at the limit), the evicted closed in a loop afterwards
class NewestWins(Pool):
    """At the limit, the oldest connection of the user is closed (1008) and the new one admitted."""

    async def add(self, user: str, ws: WebSocket) -> bool:
        await self.lookup(user)
        mine = self.connections.setdefault(user, [])
        evicted = []
        while len(mine) >= self.limit:
            evicted.append(mine.pop(0))
        mine.append(ws)
        for old in evicted:
            await old.close(code=1008, reason="Replaced by a newer connection")
        return True
