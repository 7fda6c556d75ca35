"""Presence and pools in one process: counts kept here, changed with no await in between."""
from __future__ import annotations

from collections import Counter, defaultdict

from ...hub import Connection
from ..base import SSE
from ..stores import PoolLimits


class MemoryPresence:
    """Who is connected, per user and endpoint and per group, as the session counts them in and out.

    The Redis presence keeps one of these too: it is what it falls back to while Redis is unreachable."""

    def __init__(self, pools: PoolLimits) -> None:
        self.pools = pools
        self.users: defaultdict[str, Counter[str]] = defaultdict(Counter)  # user -> endpoint -> connections
        self.groups: defaultdict[str, Counter[str]] = defaultdict(Counter)  # group -> user -> connections
        self.sizes: Counter[str] = Counter()  # group -> connections, users or not
        self.announcement_subs = 0
        self.counted: dict[int, Connection] = {}  # connection id -> connection, counted in and not yet out

    @staticmethod
    def _less(counts: dict, outer: str, inner: str) -> None:
        inner_counts = counts.get(outer)
        if inner_counts is None:
            return
        inner_counts[inner] -= 1
        if inner_counts[inner] <= 0:
            del inner_counts[inner]
        if not inner_counts:
            del counts[outer]

    async def connected(self, conn: Connection) -> None:
        self.counted[conn.id] = conn
        if conn.user is not None:
            self.users[conn.user][conn.endpoint] += 1

    async def entered(self, conn: Connection, groups: list[str]) -> None:
        for group in groups:
            self.sizes[group] += 1
            if conn.user is not None:
                self.groups[group][conn.user] += 1

    async def left(self, conn: Connection) -> None:
        if self.counted.pop(conn.id, None) is None:
            return  # counted out once, however many paths lead here
        if conn.user is not None:
            self._less(self.users, conn.user, conn.endpoint)
        for group in conn.groups:
            self.sizes[group] -= 1
            if self.sizes[group] <= 0:
                del self.sizes[group]
            if conn.user is not None:
                self._less(self.groups, group, conn.user)

    async def sse_opened(self, user: str | None) -> None:
        if user is None:
            self.announcement_subs += 1
        else:
            self.users[user][SSE] += 1

    async def sse_closed(self, user: str | None) -> None:
        if user is None:
            self.announcement_subs -= 1
        else:
            self._less(self.users, user, SSE)

    async def group_size(self, group: str) -> int:
        return self.sizes.get(group, 0)

    async def group_users(self, group: str) -> list[str]:
        return sorted(self.groups.get(group, ()))

    async def is_online(self, user: str) -> bool:
        return bool(self.users.get(user))

    async def endpoints_of(self, user: str) -> dict[str, int]:
        return dict(self.users.get(user, {}))

    async def announcement_subscribers(self) -> int:
        return self.announcement_subs

    async def pool_acquire(self, key: str, limit: int) -> bool:
        return self.pools.acquire(key, limit)

    async def pool_release(self, key: str) -> None:
        self.pools.release(key)
