"""The bus: Redis pub/sub as this node uses it, by interest, with batched publishing.

**Interest.** A node subscribes to the channel of a group (:func:`~.wire.group_channel`) while
one of its own connections or SSE subscribers is in it, and to a user's channel while one of the
user's connections is here; it unsubscribes when the last one leaves. :meth:`Bus.want` returns
once Redis has *confirmed* the subscription (``SUBSCRIBE`` only sends the command: what is
published before the confirmation is not delivered), so a joining member misses nothing.
Every node also listens on its own channel (:func:`~.wire.node_channel`).

**Batching.** What the node publishes in one turn of its event loop goes to Redis in one
pipeline, written by one task, in order: consecutive records for one channel become one bus
message (:func:`~.wire.encode`), consecutive messages of one chat room one script call. While a
pipeline is in flight, what is published meanwhile waits for the next one. The order within a
room is the order of the calls; a message that can't reach Redis is delivered on this process
only (its ``fallback``).

It counts what it received (``received``: records) and what reached no local receiver
(``dropped``): with interest-based delivery, only messages in flight when the last member left.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Iterable
from typing import Any

from .wire import Envelope, decode, encode, node_channel

log = logging.getLogger("rtlab.broker")

CONFIRM_TIMEOUT = 5.0  # seconds a join waits for Redis to confirm a subscription

# A room's messages: each gets its stream id in the room's history (the room's epoch set on first
# use), and all go to the room's channel in one bus message, in one atomic step: every node sees a
# room's messages in id order.
SAY = """
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[2], epoch)
end
local records = {}
for i = 5, #ARGV do
  local position = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'm', ARGV[i])
  records[#records + 1] = {'m', ARGV[3], ARGV[i], position, epoch}
end
redis.call('PUBLISH', ARGV[4], cjson.encode(records))
return #records
"""

# An event of a log: its id, kept in the bounded log, published with its id, in one step.
LOG_PUBLISH = """
local id = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], id, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PUBLISH', ARGV[3], cjson.encode({{ARGV[4], ARGV[5], ARGV[1], id}}))
return id
"""


class _Item:
    """One queued publication; consecutive items with the same ``run`` key share one command."""

    __slots__ = ("future", "fallback")
    run: Any = None

    def __init__(self, future: asyncio.Future | None, fallback: Callable[[], Any] | None) -> None:
        self.future, self.fallback = future, fallback

    def done(self, result: Any) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(result)

    def failed(self, exc: BaseException) -> None:
        if self.future is not None:
            if not self.future.done():
                self.future.set_exception(exc)
        elif self.fallback is not None:
            try:
                self.fallback()
            except Exception:
                log.exception("delivering on this process failed")


class _Publish(_Item):
    __slots__ = ("channel", "envelope")

    def __init__(self, channel: str, envelope: Envelope, future, fallback) -> None:
        super().__init__(future, fallback)
        self.channel, self.envelope = channel, envelope

    @property
    def run(self):
        return ("publish", self.channel)

    @staticmethod
    def command(pipe, run: list["_Publish"]) -> None:
        pipe.publish(run[0].channel, encode([item.envelope for item in run]))


class _Say(_Item):
    __slots__ = ("keys", "head", "text")

    def __init__(self, keys: list[str], head: list, text: str, fallback) -> None:
        super().__init__(None, fallback)
        self.keys, self.head, self.text = keys, head, text

    @property
    def run(self):
        return ("say", self.keys[0])

    @staticmethod
    def command(pipe, run: list["_Say"]) -> None:
        first = run[0]
        pipe.eval(SAY, 2, *first.keys, *first.head, *[item.text for item in run])


class _Script(_Item):
    __slots__ = ("source", "keys", "args")

    def __init__(self, source: str, keys: list[str], args: list, future) -> None:
        super().__init__(future, None)
        self.source, self.keys, self.args = source, keys, args

    @property
    def run(self):
        return None  # one call each

    @staticmethod
    def command(pipe, run: list["_Script"]) -> None:
        item = run[0]
        pipe.eval(item.source, len(item.keys), *item.keys, *item.args)


class Bus:
    def __init__(self, node: str, handle: Callable[[Envelope], int]) -> None:
        self.node = node
        self.own = node_channel(node)
        self.handle = handle  # delivers a record to this node's receivers; how many it reached
        self.redis = None
        self.interest: dict[str, int] = {}  # channel -> local members and subscribers
        self.received = 0
        self.dropped = 0
        self.on_reconnect: list[Callable[[], Any]] = []  # coroutines to run once resubscribed
        self.subscribed = asyncio.Event()
        self._pubsub = None
        self._confirm: dict[str, collections.deque[asyncio.Future]] = {}
        self._ready: dict[str, asyncio.Future] = {}
        self._pending: list[_Item] = []
        self._writer: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, redis) -> None:
        self.redis = redis
        self._listener = asyncio.create_task(self._listen(), name="rtlab-bus")
        await asyncio.wait_for(self.subscribed.wait(), CONFIRM_TIMEOUT)

    async def stop(self) -> None:
        for task in (self._listener, self._writer):
            if task is not None:
                task.cancel()
        await asyncio.gather(*[t for t in (self._listener, self._writer) if t is not None], return_exceptions=True)

    # -- interest ---------------------------------------------------------------------------------
    def _expect(self, channel: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._confirm.setdefault(channel, collections.deque()).append(future)
        self._ready[channel] = future
        return future

    async def want(self, channels: Iterable[str]) -> None:
        """Count interest in each channel; subscribe to the new ones; return once all are confirmed."""
        channels = list(channels)
        new = []
        for channel in channels:
            count = self.interest.get(channel, 0)
            self.interest[channel] = count + 1
            if count == 0:
                new.append(channel)
        pubsub = self._pubsub
        if pubsub is None:  # reconnecting: the listener subscribes to every channel of interest
            return
        if new:
            waits = [self._expect(ch) for ch in new]
            try:
                await pubsub.subscribe(*new)
            except Exception as exc:
                log.warning("broker unavailable to subscribe (%s): the reconnect will", exc)
                for w in waits:
                    w.cancel()
                return
        waits = [f for ch in channels if (f := self._ready.get(ch)) is not None and not f.done()]
        if waits:
            try:
                await asyncio.wait_for(asyncio.gather(*map(asyncio.shield, waits)), CONFIRM_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError) as exc:
                if isinstance(exc, asyncio.CancelledError) and asyncio.current_task().cancelling():
                    raise
                log.warning("a subscription was not confirmed in %g s", CONFIRM_TIMEOUT)

    async def unwant(self, channels: Iterable[str]) -> None:
        """Undo :meth:`want`; unsubscribe from the channels no local member is interested in any more."""
        gone = []
        for channel in channels:
            count = self.interest.get(channel, 0) - 1
            if count > 0:
                self.interest[channel] = count
            else:
                self.interest.pop(channel, None)
                self._ready.pop(channel, None)
                gone.append(channel)
        pubsub = self._pubsub
        if gone and pubsub is not None:
            try:
                await pubsub.unsubscribe(*gone)
            except Exception as exc:
                log.warning("broker unavailable to unsubscribe (%s)", exc)

    # -- receiving -----------------------------------------------------------------------------------
    async def _listen(self) -> None:
        """Subscribe (confirmed) to every channel of interest, deliver; after a lost connection
        reconnect with backoff, resubscribe, and let the others restate this node's state."""
        delay, first = 0.1, True
        while True:
            pubsub = self.redis.pubsub()
            ready = None
            try:
                channels = [self.own, *self.interest]
                self._confirm.clear()
                self._ready.clear()
                waits = [self._expect(ch) for ch in channels]
                await pubsub.subscribe(*channels)
                self._pubsub = pubsub
                ready = asyncio.ensure_future(self._resubscribed(waits, first))
                first, delay = False, 0.1
                async for message in pubsub.listen():
                    kind = message["type"]
                    if kind == "message":
                        self._received(message["data"])
                    elif kind == "subscribe":
                        self._confirmed(message["channel"])
            except asyncio.CancelledError:
                self._pubsub = None
                await _quietly(pubsub.aclose())
                raise
            except Exception as exc:
                self._pubsub = None
                self.subscribed.clear()
                for confirms in self._confirm.values():  # joins waiting for these go on (said in the log)
                    for future in confirms:
                        future.cancel()
                log.warning("broker connection lost (%s); retrying in %.1f s", exc, delay)
                await _quietly(pubsub.aclose())
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if ready is not None and not ready.done():
                    ready.cancel()

    def _confirmed(self, channel: str) -> None:
        """Redis confirmed a SUBSCRIBE: the oldest one sent for the channel (they are confirmed in order)."""
        confirms = self._confirm.get(channel)
        if confirms:
            future = confirms.popleft()
            if not future.done():
                future.set_result(None)

    async def _resubscribed(self, waits: list[asyncio.Future], first: bool) -> None:
        await asyncio.gather(*waits)
        if not first:
            for restate in self.on_reconnect:
                await restate()
            log.warning("broker connection restored; subscriptions and counts restated")
        self.subscribed.set()

    def _received(self, data: str) -> None:
        try:
            envelopes = decode(data)
        except ValueError:  # one bad message must not stop the node's fan-out
            log.exception("undeliverable bus message: %.200s", data)
            return
        for envelope in envelopes:
            self.received += 1
            try:
                reached = self.handle(envelope)
            except Exception:
                log.exception("undeliverable envelope: %.200s", envelope)
                reached = 0
            if not reached:
                self.dropped += 1

    # -- publishing -------------------------------------------------------------------------------------
    def _queue(self, item: _Item) -> None:
        self._pending.append(item)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="rtlab-bus-writer")

    def publish(self, channel: str, envelope: Envelope, fallback: Callable[[], Any] | None = None,
                wait: bool = False) -> asyncio.Future | None:
        """Queue a record for a channel. ``wait``: a future, True once Redis took it (False: it could
        not, and nothing was sent); otherwise ``fallback`` runs if Redis can't be reached."""
        future = asyncio.get_running_loop().create_future() if wait else None
        self._queue(_Publish(channel, envelope, future, fallback))
        return future

    def say(self, keys: list[str], head: list, text: str, fallback: Callable[[], Any]) -> None:
        """Queue a room message for :data:`SAY` (``keys``: the stream and the epoch; ``head``: the
        other arguments before the messages)."""
        self._queue(_Say(keys, head, text, fallback))

    def script(self, source: str, keys: list[str], args: list) -> asyncio.Future:
        """Queue a script call, in order with the rest; a future of its result."""
        future = asyncio.get_running_loop().create_future()
        self._queue(_Script(source, keys, args, future))
        return future

    async def _write(self) -> None:
        """Everything queued so far in one pipeline; again while more was queued meanwhile."""
        await asyncio.sleep(0)  # the rest of this turn's publications join the batch
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                runs: list[list[_Item]] = []
                for item in batch:
                    key = item.run
                    if key is not None and runs and runs[-1][0].run == key:
                        runs[-1].append(item)
                    else:
                        runs.append([item])
                try:
                    pipe = self.redis.pipeline(transaction=False)
                    for run in runs:
                        type(run[0]).command(pipe, run)
                    results = await pipe.execute(raise_on_error=False)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("broker unavailable (%s): delivering on this process only", exc)
                    results = [exc] * len(runs)
                for run, result in zip(runs, results):
                    for item in run:
                        if isinstance(result, Exception):
                            item.failed(result)
                        else:
                            item.done(result)
        finally:
            self._writer = None
            if self._pending:  # cancelled with items left: they are not lost silently
                for item in self._pending:
                    item.failed(ConnectionError("the bus stopped"))
                self._pending = []


async def _quietly(coro) -> None:
    try:
        await coro
    except Exception:
        pass
