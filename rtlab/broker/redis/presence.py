"""Presence and pools across processes: hashes of per-node counts.

Counts are kept per node ("node|name" fields, :func:`~.wire.node_field`), so that a node can
restate its own counts after a Redis restart without double counting (:meth:`RedisPresence.restate`),
and a node that died stops counting once its heartbeat ages (:meth:`Link.live_nodes`). This node's
own counts are also kept here, in a :class:`~rtlab.broker.memory.MemoryPresence`: what it restates,
and what it answers from while Redis is unreachable.
"""
from __future__ import annotations

import asyncio
import logging
import time

from ...hub import Connection
from ..base import SSE
from ..memory.presence import MemoryPresence
from .link import NODE_TTL, Link, guarded
from .wire import ANNOUNCEMENT_SUBS, NODES, node_field, pool_key, presence_key, split_field, user_key

log = logging.getLogger("rtlab.broker")

_POOL_ACQUIRE = """
local total = 0
local vals = redis.call('HGETALL', KEYS[1])
local live = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[3], '+inf')) do live[n] = true end
for i = 1, #vals, 2 do
  if live[vals[i]] then total = total + tonumber(vals[i + 1]) end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return 1
"""

DECR = """
local v = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if v <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return v
"""


class RedisPresence:
    def __init__(self, link: Link, local: MemoryPresence) -> None:
        self.link, self.local = link, local

    @property
    def node(self) -> str:
        return self.link.node

    async def _counts(self, key: str) -> dict[str, int]:
        """name -> count over live nodes, from a hash of "node|name" fields."""
        raw, live = await asyncio.gather(self.link.redis.hgetall(key), self.link.live_nodes())
        out: dict[str, int] = {}
        for field, value in raw.items():
            node, name = split_field(field)
            if node in live and int(value) > 0:
                out[name] = out.get(name, 0) + int(value)
        return out

    def _decr(self, key: str, field: str):
        return self.link.redis.eval(DECR, 1, key, field)

    async def connected(self, conn: Connection) -> None:
        await self.local.connected(conn)
        if conn.user is not None:
            await guarded(self.link.redis.hincrby(user_key(conn.user), node_field(self.node, conn.endpoint), 1),
                          "presence")

    async def entered(self, conn: Connection, groups: list[str]) -> None:
        await self.local.entered(conn, groups)
        if conn.user is None or not groups:
            return
        pipe = self.link.redis.pipeline(transaction=False)
        for group in groups:
            pipe.hincrby(presence_key(group), node_field(self.node, conn.user), 1)
        await guarded(pipe.execute(), "presence")

    async def left(self, conn: Connection) -> None:
        if conn.id not in self.local.counted:
            return  # counted out once, however many paths lead here
        await self.local.left(conn)
        if conn.user is None:
            return
        calls = [self._decr(user_key(conn.user), node_field(self.node, conn.endpoint))]
        calls += [self._decr(presence_key(g), node_field(self.node, conn.user)) for g in conn.groups]
        await guarded(asyncio.gather(*calls), "presence")

    async def sse_opened(self, user: str | None) -> None:
        await self.local.sse_opened(user)
        key, field = (ANNOUNCEMENT_SUBS, self.node) if user is None else (user_key(user), node_field(self.node, SSE))
        await guarded(self.link.redis.hincrby(key, field, 1), "subscriptions")

    async def sse_closed(self, user: str | None) -> None:
        await self.local.sse_closed(user)
        key, field = (ANNOUNCEMENT_SUBS, self.node) if user is None else (user_key(user), node_field(self.node, SSE))
        await guarded(self._decr(key, field), "subscriptions")

    async def group_size(self, group: str) -> int:
        counts = await guarded(self._counts(presence_key(group)), "presence")
        return sum(counts.values()) if counts is not None else await self.local.group_size(group)

    async def group_users(self, group: str) -> list[str]:
        counts = await guarded(self._counts(presence_key(group)), "presence")
        return sorted(counts) if counts is not None else await self.local.group_users(group)

    async def endpoints_of(self, user: str) -> dict[str, int]:
        counts = await guarded(self._counts(user_key(user)), "presence")
        return counts if counts is not None else await self.local.endpoints_of(user)

    async def is_online(self, user: str) -> bool:
        return bool(await self.endpoints_of(user)) or await self.local.is_online(user)

    async def announcement_subscribers(self) -> int:
        raw = await guarded(self.link.redis.hgetall(ANNOUNCEMENT_SUBS), "subscriptions")
        if raw is None:
            return await self.local.announcement_subscribers()
        live = await self.link.live_nodes()
        return sum(int(v) for node, v in raw.items() if node in live and int(v) > 0)

    async def pool_acquire(self, key: str, limit: int) -> bool:
        try:
            ok = await self.link.redis.eval(_POOL_ACQUIRE, 2, pool_key(key), NODES, self.node, limit,
                                            time.time() - NODE_TTL)
        except Exception as exc:  # Redis unreachable: hold the limit per process until it is back
            log.warning("broker unavailable for the pool limit (%s): enforcing it on this process only", exc)
            return self.local.pools.acquire(key, limit)
        if ok:  # this node's own count, restated after a Redis restart
            self.local.pools.take(key)
        return bool(ok)

    async def pool_release(self, key: str) -> None:
        self.local.pools.release(key)
        await guarded(self._decr(pool_key(key), self.node), "pool")

    async def restate(self) -> None:
        """After a Redis restart its state is gone: restate this node's part of it."""
        pipe = self.link.redis.pipeline(transaction=False)
        for user, endpoints in self.local.users.items():
            for endpoint, count in endpoints.items():
                pipe.hset(user_key(user), node_field(self.node, endpoint), count)
        for group, users in self.local.groups.items():
            for user, count in users.items():
                pipe.hset(presence_key(group), node_field(self.node, user), count)
        if self.local.announcement_subs:
            pipe.hset(ANNOUNCEMENT_SUBS, self.node, self.local.announcement_subs)
        for key, count in self.local.pools.taken.items():
            pipe.hset(pool_key(key), self.node, count)
        await pipe.execute()
