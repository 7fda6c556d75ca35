"""This node's connection to Redis, its identity and its heartbeat (the lifecycle part)."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid

from ..base import BrokerUnavailable
from .bus import Bus
from .wire import NODES

log = logging.getLogger("rtlab.broker")

HEARTBEAT = 1.0  # seconds between a node's heartbeats
NODE_TTL = 5.0  # a node whose heartbeat is older counts for nothing


async def guarded(coro, what: str):
    """The coroutine's result, or None (said in the log) when Redis can't be reached."""
    try:
        return await coro
    except Exception as exc:
        log.warning("broker unavailable for %s: %s", what, exc)
        return None


class Link:
    def __init__(self, url: str, bus: Bus) -> None:
        self.url = url
        self.node = bus.node
        self.bus = bus
        self.redis = None
        self._heartbeat: asyncio.Task | None = None

    @staticmethod
    def new_node() -> str:
        return uuid.uuid4().hex[:12]

    async def start(self) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(self.url, decode_responses=True, socket_connect_timeout=2,
                                       health_check_interval=5)
        try:
            await self.redis.ping()
        except Exception as exc:
            await self.redis.aclose()
            raise BrokerUnavailable(f"cannot reach the broker at {self.url}: {exc}") from None
        await self.beat()
        self._heartbeat = asyncio.create_task(self._beating(), name="rtlab-heartbeat")
        self.bus.on_reconnect.insert(0, self.beat)
        await self.bus.start(self.redis)

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await self.bus.stop()
        if self.redis is not None:
            await guarded(self.redis.zrem(NODES, self.node), "leaving")
            await self.redis.aclose()

    def counts(self) -> dict[str, int]:
        return {"bus_received": self.bus.received, "bus_dropped": self.bus.dropped}

    async def beat(self) -> None:
        await self.redis.zadd(NODES, {self.node: time.time()})

    async def _beating(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self.beat()
            except Exception:
                pass  # the bus's listener notices and reconnects

    async def live_nodes(self) -> set[str]:
        return set(await self.redis.zrangebyscore(NODES, time.time() - NODE_TTL, "+inf"))
