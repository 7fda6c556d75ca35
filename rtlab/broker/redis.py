"""The Redis broker: any number of processes sharing one ``redis-server``.

Pub/sub carries the fan-out (one channel, :data:`BUS`, every node subscribed); hashes hold the
presence and the counts (per node, so that a node can restate its part after a Redis restart and
a dead node stops counting once its heartbeat ages); a stream per room holds the chat history;
sorted sets hold the SSE event logs; a hash and a list per document hold the shared documents.

This broker *has* a :class:`~rtlab.broker.memory.MemoryBroker` (``self.memory``) for what a node
delivers to its own clients, and falls back to it, for this process only, while Redis is
unreachable.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from ..channels import Channel, Event, Subscription
from ..documents import Document
from ..history import new_epoch, order_key, recover, room_group
from ..hub import Connection, Outgoing
from ..notify import ENDPOINT as NOTIFICATIONS
from ..notify import group_of
from ..ot import OTError
from . import SSE, BrokerUnavailable, DocState, Local, LogBounds, Recovery, Subscribed
from .memory import MemoryBroker, notification_for_websocket

log = logging.getLogger("rtlab.broker")

BUS = "rtlab:bus"
DOC_HISTORY = 1000  # operations kept per document, to transform edits made on older versions
NODES = "rtlab:nodes"
HEARTBEAT = 1.0
NODE_TTL = 5.0

# Counts are kept per node ("node|name" fields), so that a node can restate its own counts after a
# Redis restart without double counting, and a node that died stops counting once its heartbeat ages.
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

_DECR = """
local v = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if v <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return v
"""

# A room message: its id (the room's epoch and a stream id), the bounded history and the fan-out in
# one atomic step, so that every node sees a room's messages in id order.
_SAY = """
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
local sid = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'm', ARGV[1])
redis.call('PUBLISH', ARGV[5], '{"kind":"say","group":' .. cjson.encode(ARGV[4]) .. ',"epoch":"' .. epoch ..
           '","position":"' .. sid .. '","message":' .. cjson.encode(ARGV[1]) .. '}')
return sid
"""

# A document's content, version and operations, read in one step: read one by one, another node's
# commit could fall in between, and the edit be refused for an inconsistency that never existed.
_DOC_READ = """
return {redis.call('HGET', KEYS[1], 'content') or '', redis.call('HGET', KEYS[1], 'version') or '0',
        redis.call('LRANGE', KEYS[2], 0, -1)}
"""

_LOG_APPEND = """
local id = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], id, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
return id
"""


class RedisBroker:
    """Many processes, one ``redis-server``: pub/sub for fan-out, hashes, streams and sets for state."""

    name = "redis"

    def __init__(self, local: Local, url: str) -> None:
        self.local = local
        self.memory = MemoryBroker(local)  # this node's own clients, and the fallback
        self.url = url
        self.node = uuid.uuid4().hex[:12]
        self.redis = None
        self._tasks: list[asyncio.Task] = []
        self._subscribed = asyncio.Event()
        self.reconnects = 0
        self.local_fallbacks = 0  # fan-outs delivered only locally because Redis was unreachable

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(self.url, decode_responses=True, socket_connect_timeout=2,
                                       health_check_interval=5)
        try:
            await self.redis.ping()
        except Exception as exc:
            await self.redis.aclose()
            raise BrokerUnavailable(f"cannot reach the broker at {self.url}: {exc}") from None
        self._acquire = self.redis.register_script(_POOL_ACQUIRE)
        self._decr = self.redis.register_script(_DECR)
        self._append = self.redis.register_script(_LOG_APPEND)
        self._say = self.redis.register_script(_SAY)
        await self._heartbeat_once()
        self._tasks = [asyncio.create_task(self._listen(), name="rtlab-bus"),
                       asyncio.create_task(self._heartbeat(), name="rtlab-heartbeat")]
        await asyncio.wait_for(self._subscribed.wait(), 5)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.redis is not None:
            try:
                await self.redis.zrem(NODES, self.node)
            except Exception:
                pass
            await self.redis.aclose()

    async def _heartbeat_once(self) -> None:
        await self.redis.zadd(NODES, {self.node: time.time()})

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self._heartbeat_once()
            except Exception:
                pass  # the listener notices and reconnects

    async def _listen(self) -> None:
        """Subscribe (confirmed), deliver, and after a lost connection reconnect with backoff and resync."""
        delay = 0.1
        first = True
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(BUS)
                # subscribe() only sends the command: wait for Redis to confirm before counting on it.
                while (await pubsub.get_message(timeout=1.0)) is None:
                    pass
                if not first:
                    await self._resync()
                    self.reconnects += 1
                    log.warning("broker connection restored; subscriptions and counts restated")
                first, delay = False, 0.1
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        try:
                            self._deliver(json.loads(message["data"]))
                        except Exception:  # one bad envelope must not stop the node's fan-out
                            log.exception("undeliverable envelope: %.200s", message["data"])
            except asyncio.CancelledError:
                await _quietly(pubsub.aclose())
                raise
            except Exception as exc:
                self._subscribed.clear()
                log.warning("broker connection lost (%s); retrying in %.1f s", exc, delay)
                await _quietly(pubsub.aclose())
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _resync(self) -> None:
        """After a Redis restart its state is gone: restate this node's part of it."""
        await self._heartbeat_once()
        hub = self.local.hub
        pipe = self.redis.pipeline(transaction=False)
        for conn in list(hub.connections):
            if conn.user is not None:
                pipe.hset(f"rtlab:user:{conn.user}", f"{self.node}|{conn.endpoint}",
                          sum(1 for c in hub.users.get(conn.user, ()) if c.endpoint == conn.endpoint))
            for group in conn.groups:
                if conn.user is not None:
                    pipe.hset(f"rtlab:presence:{group}", f"{self.node}|{conn.user}",
                              sum(1 for c in hub.groups.get(group, ()) if c.user == conn.user))
        for key, count in self.local.pools.taken.items():
            pipe.hset(f"rtlab:pool:{key}", self.node, count)
        await pipe.execute()

    # -- membership -------------------------------------------------------------------------------
    async def _live_nodes(self) -> set[str]:
        return set(await self.redis.zrangebyscore(NODES, time.time() - NODE_TTL, "+inf"))

    async def _counts(self, key: str) -> dict[str, int]:
        """name -> count over live nodes, from a hash of "node|name" fields."""
        raw, live = await asyncio.gather(self.redis.hgetall(key), self._live_nodes())
        out: dict[str, int] = {}
        for field, value in raw.items():
            node, _, name = field.partition("|")
            if node in live and int(value) > 0:
                out[name] = out.get(name, 0) + int(value)
        return out

    async def _guarded(self, coro, what: str):
        try:
            return await coro
        except Exception as exc:
            log.warning("broker unavailable for %s: %s", what, exc)
            return None

    async def connected(self, conn: Connection) -> None:
        if conn.user is not None:
            conn.shared = True
            await self._guarded(self.redis.hincrby(f"rtlab:user:{conn.user}", f"{self.node}|{conn.endpoint}", 1),
                                "presence")

    async def entered(self, conn: Connection, groups) -> None:
        if conn.user is None or not groups:
            return
        pipe = self.redis.pipeline(transaction=False)
        for group in groups:
            pipe.hincrby(f"rtlab:presence:{group}", f"{self.node}|{conn.user}", 1)
        await self._guarded(pipe.execute(), "presence")

    async def left(self, conn: Connection) -> None:
        if conn.user is None or not conn.shared:
            return
        conn.shared = False  # counted out once, however many paths lead here
        calls = [self._decr(keys=[f"rtlab:user:{conn.user}"], args=[f"{self.node}|{conn.endpoint}"])]
        calls += [self._decr(keys=[f"rtlab:presence:{g}"], args=[f"{self.node}|{conn.user}"])
                  for g in conn.groups]
        await self._guarded(asyncio.gather(*calls), "presence")

    async def group_size(self, group: str) -> int:
        counts = await self._guarded(self._counts(f"rtlab:presence:{group}"), "presence")
        return sum(counts.values()) if counts is not None else await self.memory.group_size(group)

    async def group_users(self, group: str) -> list[str]:
        counts = await self._guarded(self._counts(f"rtlab:presence:{group}"), "presence")
        return sorted(counts) if counts is not None else await self.memory.group_users(group)

    async def _user_counts(self, user: str) -> dict[str, int]:
        counts = await self._guarded(self._counts(f"rtlab:user:{user}"), "presence")
        return counts or {}

    async def is_online(self, user: str) -> bool:
        return bool(await self._user_counts(user)) or await self.memory.is_online(user)

    async def pool_acquire(self, key: str, limit: int) -> bool:
        try:
            ok = await self._acquire(keys=[f"rtlab:pool:{key}", NODES],
                                     args=[self.node, limit, time.time() - NODE_TTL])
        except Exception as exc:  # Redis unreachable: hold the limit per process until it is back
            log.warning("broker unavailable for the pool limit (%s): enforcing it on this process only", exc)
            return self.local.pools.acquire(key, limit)
        if ok:  # this node's own count, restated after a Redis restart
            self.local.pools.taken[key] = self.local.pools.taken.get(key, 0) + 1
        return bool(ok)

    async def pool_release(self, key: str) -> None:
        self.local.pools.release(key)
        await self._guarded(self._decr(keys=[f"rtlab:pool:{key}"], args=[self.node]), "pool")

    # -- fan-out ----------------------------------------------------------------------------------
    async def _send(self, envelope: dict) -> bool:
        """Publish to every node (this one included). False, and nothing sent, if Redis is down."""
        try:
            await self.redis.publish(BUS, json.dumps(envelope, separators=(",", ":")))
            return True
        except Exception as exc:
            self.local_fallbacks += 1
            log.warning("broker unavailable (%s): delivering on this process only", exc)
            return False

    def _deliver(self, env: dict) -> None:
        """An envelope from the bus, delivered to this node's own clients."""
        kind, hub = env["kind"], self.local.hub
        if kind == "group":
            exclude = None
            if env.get("exclude_node") == self.node:
                exclude = hub.by_id.get(env["exclude_conn"])
            key = env.get("key")
            hub.publish(env["group"], Outgoing(env["payload"], key=None if key is None else (key, 0)), exclude=exclude)
        elif kind == "say":
            message = {**json.loads(env["message"]), "id": f"{env['epoch']}.{env['position']}"}
            hub.publish(env["group"], Outgoing(message, key=order_key(env["position"])))
        elif kind == "user":
            hub.send_to_user(env["user"], env["payload"], endpoint=env["endpoint"])
        elif kind == "notification":
            payload = json.loads(env["payload"])
            hub.publish(group_of(env["user"]), notification_for_websocket(payload, env["id"]))
            self.local.notifier.channel(env["user"]).publish(payload, id=env["id"])
        elif kind == "announcement":
            self.local.announcements.publish(json.loads(env["payload"]), id=env["id"])
        elif kind == "connection" and env["node"] == self.node:
            conn = hub.by_id.get(env["conn"])
            if conn is not None:
                conn.send(Outgoing(env["payload"]))

    @staticmethod
    def _group_envelope(group: str, text: str, exclude: Connection | None, node: str, key: int | None = None) -> dict:
        return {"kind": "group", "group": group, "payload": text, "key": key,
                "exclude_node": node if exclude else None, "exclude_conn": exclude.id if exclude else None}

    async def publish(self, group: str, payload: Any, exclude: Connection | None = None) -> None:
        item = Outgoing(payload)
        if not await self._send(self._group_envelope(group, item.text, exclude, self.node)):
            self.local.hub.publish(group, item, exclude=exclude)

    async def send_to_user(self, user: str, payload: Any, endpoint: str) -> int:
        count = (await self._user_counts(user)).get(endpoint, 0)
        env = {"kind": "user", "user": user, "endpoint": endpoint, "payload": Outgoing(payload).text}
        if not await self._send(env):
            return await self.memory.send_to_user(user, payload, endpoint)
        return count

    async def _log(self, channel: str, data: str) -> int | None:
        return await self._guarded(self._append(keys=[f"rtlab:seq:{channel}", f"rtlab:log:{channel}"],
                                                args=[data, self.local.settings.event_log_size]), "event log")

    async def notify(self, user: str, payload: dict) -> int:
        text = json.dumps(payload, separators=(",", ":"))
        counts = await self._user_counts(user)  # before sending: a subscriber may leave once it has it
        event_id = await self._log(f"notifications:{user}", text)
        if event_id is None or not await self._send({"kind": "notification", "user": user, "id": event_id,
                                                     "payload": text}):
            return await self.memory.notify(user, payload)
        return counts.get(NOTIFICATIONS, 0) + counts.get(SSE, 0)

    async def announce(self, payload: dict) -> int:
        text = json.dumps(payload, separators=(",", ":"))
        counts = await self._guarded(self._counts("rtlab:subs:announcements"), "subscriptions")
        event_id = await self._log("announcements", text)
        if event_id is None or not await self._send({"kind": "announcement", "id": event_id, "payload": text}):
            return await self.memory.announce(payload)
        return sum((counts or {}).values())

    # -- chat history -----------------------------------------------------------------------------
    async def say(self, room: str, message: dict) -> None:
        text = json.dumps(message, separators=(",", ":"))
        try:
            await self._say(keys=[f"rtlab:chat:{room}", f"rtlab:chat:{room}:epoch"],
                            args=[text, self.local.settings.history_size, new_epoch(), room_group(room), BUS])
        except Exception as exc:
            self.local_fallbacks += 1
            log.warning("broker unavailable (%s): the message stays on this process", exc)
            await self.memory.say(room, message)

    async def recover(self, room: str, since: str | None) -> Recovery:
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.get(f"rtlab:chat:{room}:epoch")
            pipe.xrange(f"rtlab:chat:{room}")
            epoch, rows = await pipe.execute()
        except Exception as exc:
            log.warning("broker unavailable for the history: %s", exc)
            return await self.memory.recover(room, since)
        kept = [{**json.loads(fields["m"]), "id": f"{epoch}.{position}"} for position, fields in rows]
        settings = self.local.settings
        return recover(kept, epoch, since, settings.history_size, settings.history_max_bytes)

    # -- shared documents -------------------------------------------------------------------------
    async def doc_state(self, doc_id: str) -> DocState:
        try:
            content, version = await self.redis.hmget(f"rtlab:doc:{doc_id}", "content", "version")
        except Exception as exc:
            raise OTError(f"document service unavailable: {exc}") from None
        return DocState(content or "", int(version or 0))

    async def doc_edit(self, doc_id: str, conn: Connection, base_version: int | None, edit: dict | list | None,
                       content: str | None) -> None:
        """Optimistic transaction: read the document, transform and apply in Python, write back only
        if nobody else wrote meanwhile (WATCH), else retry. The edit for the others and the ack
        for the author are published inside the same transaction, so every node sees edits in
        version order, and the author's ack never overtakes an earlier edit by someone else."""
        from redis.exceptions import WatchError

        state, ops = f"rtlab:doc:{doc_id}", f"rtlab:docops:{doc_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(state, ops)
                    text, version, raw_ops = await pipe.eval(_DOC_READ, 2, state, ops)
                    doc = Document(DOC_HISTORY, text, int(version), [json.loads(o) for o in raw_ops])
                    op = doc.apply_edit(base_version, edit, content)
                    message = doc.edit_message(op, conn.user, content is not None)
                    pipe.multi()
                    pipe.hset(state, mapping={"content": doc.content, "version": doc.version})
                    pipe.rpush(ops, json.dumps(op))
                    pipe.ltrim(ops, -DOC_HISTORY, -1)
                    pipe.publish(BUS, json.dumps(self._group_envelope(f"document:{doc_id}", Outgoing(message).text,
                                                                      conn, self.node, key=doc.version)))
                    pipe.publish(BUS, json.dumps({"kind": "connection", "node": self.node, "conn": conn.id,
                                                  "payload": Outgoing({"type": "ack", "version": doc.version}).text}))
                    await pipe.execute()
                    return
                except WatchError:
                    continue  # someone else committed first: read again and transform over it
                except OTError:
                    raise
                except Exception as exc:  # Redis unreachable: the edit is refused, not half-applied
                    raise OTError(f"document service unavailable, edit not applied: {exc}") from None

    # -- event logs ------------------------------------------------------------------------------
    async def subscribe(self, channel: Channel, last_id: int | None, user: str | None = None) -> Subscribed:
        # Register locally first, then read the shared log: an event published meanwhile arrives
        # live as well as in the replay, and the reader skips ids it has already replayed.
        sub, _, _ = channel.subscribe(None)
        key = "rtlab:subs:announcements" if user is None else f"rtlab:user:{user}"
        field = self.node if user is None else f"{self.node}|{SSE}"
        await self._guarded(self.redis.hincrby(key, field, 1), "subscriptions")
        replay, lost, upto = [], False, 0
        if last_id is not None:
            name = channel.name
            got = await self._guarded(self._read_log(name, last_id), "event log")
            if got is None:
                lost = True
            else:
                replay, lost = got
                upto = replay[-1].id if replay else last_id
        return Subscribed(sub, replay, lost, upto)

    async def unsubscribe(self, channel: Channel, sub: Subscription, user: str | None = None) -> None:
        sub.close()
        key = "rtlab:subs:announcements" if user is None else f"rtlab:user:{user}"
        field = self.node if user is None else f"{self.node}|{SSE}"
        await self._guarded(self._decr(keys=[key], args=[field]), "subscriptions")

    async def _bounds(self, name: str) -> tuple[int | None, int]:
        first = await self.redis.zrange(f"rtlab:log:{name}", 0, 0, withscores=True)
        latest = int(await self.redis.get(f"rtlab:seq:{name}") or 0)
        return (int(first[0][1]) if first else None), latest

    async def _read_log(self, name: str, last_id: int) -> tuple[list[Event], bool]:
        oldest, latest = await self._bounds(name)
        if last_id > latest or (oldest is not None and last_id < oldest - 1) or (oldest is None and last_id < latest):
            return [], True
        rows = await self.redis.zrangebyscore(f"rtlab:log:{name}", f"({last_id}", "+inf", withscores=True)
        return [Event(int(score), json.loads(data)) for data, score in rows], False

    async def replay(self, channel: Channel, last_id: int) -> tuple[list[Event], bool]:
        got = await self._guarded(self._read_log(channel.name, last_id), "event log")
        return ([], True) if got is None else got

    async def log_bounds(self, channel: Channel) -> LogBounds:
        bounds = await self._guarded(self._bounds(channel.name), "event log")
        return LogBounds(*bounds) if bounds is not None else LogBounds(None, 0)


async def _quietly(coro) -> None:
    try:
        await coro
    except Exception:
        pass
