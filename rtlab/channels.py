"""Fan-out for Server-Sent Events: each event encoded once, a bounded backlog per subscriber, a bounded log.

The tutorial version shares one ``asyncio.Queue`` among all subscribers: each event then goes
to whichever subscriber happens to ``get()`` it first, and every other subscriber misses it.
A :class:`Channel` gives each subscriber its own backlog, so every subscriber gets every event,
in order. Events carry increasing ids and stay in a bounded log, so a client that reconnects
with ``Last-Event-ID`` first gets what it missed.

It is also built for speed, the way the WebSocket hub is: an event is serialized to its SSE wire
bytes **once** for every subscriber; publishing only appends to each backlog; everything a
subscriber got in one turn of the event loop goes out in **one** write, straight to the socket
(:class:`~rtlab.routes.sse.EventStream` gives the subscription a writer, see
:func:`rtlab.internals.http_chunk_writer`), or, under backpressure, by the stream's task.
``fastapi.sse.EventSourceResponse`` instead runs, per subscriber, a
producer task, a keep-alive task, two memory streams and a timeout per event, many times the CPU
per event per subscriber (``python -m rtlab.bench sse``; the README has the last figures).

The slow-subscriber policy is the hub's (:class:`~rtlab.slow.SlowPolicy`): a subscriber whose
backlog passes ``limit_bytes``, or whose writes make no progress for ``stall_timeout`` seconds while
events wait, is dropped (its stream ends; it may resume by id). A healthy subscriber of a busy
server is never dropped: its writer drains its whole backlog at every wake-up, however many events arrived meanwhile.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from .history import log_lost
from .slow import SlowPolicy
from .wsio import dumps

log = logging.getLogger("rtlab.sse")

KEEPALIVE = 15.0  # seconds without an event before a ": ping" comment (as fastapi.sse)


@dataclass(slots=True)
class Event:
    id: int
    data: Any
    event: str | None = None
    _json: str | None = field(default=None, repr=False, compare=False)
    _wire: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def json(self) -> str:
        """The data as JSON, serialized once however many subscribers send it."""
        if self._json is None:
            self._json = dumps(self.data)
        return self._json

    @property
    def wire(self) -> bytes:
        """The whole event as it goes on the wire, built once for every subscriber."""
        if self._wire is None:
            name = f"event: {self.event}\n" if self.event else ""
            self._wire = f"id: {self.id}\n{name}data: {self.json}\n\n".encode()
        return self._wire


STALL_CHECK_BYTES = 64 * 1024  # a backlog this big has its progress checked against the clock


class Subscription:
    """One subscriber's backlog of events and its writer.

    Pushing an event is the hot path (once per event per subscriber): an append, a size, and either
    a flush scheduled for this turn of the event loop (``direct``: the stream gave a function that
    writes to the socket at once, as the hub does for WebSockets), or a wake-up of the stream's task
    (which awaits the socket: under backpressure, and where no direct writer exists). Whatever is
    pending when the task takes over is sent by it, in order, before direct writes resume. The
    clock is read only once a backlog is big enough to suspect a stall.
    """

    __slots__ = ("channel", "pending", "size", "ended", "busy_since", "idle_ticks", "_waiter",
                 "direct", "skip_upto", "prefix", "_scheduled", "_task_busy")

    def __init__(self, channel: "Channel") -> None:
        self.channel = channel
        self.pending: list[Event] = []
        self.size = 0  # bytes waiting
        self.ended = False
        self.busy_since: float | None = None  # when the backlog last grew past STALL_CHECK_BYTES
        self.idle_ticks = 0  # keep-alive ticks without an event (see Channel._keepalive)
        self._waiter: asyncio.Future | None = None
        self.direct = None  # write(bytes) -> bool: at once to the socket (False: backpressure)
        self.skip_upto = 0  # events with ids up to this one were replayed already
        self.prefix = b""  # sent before the first event (the stream's retry: field)
        self._scheduled = False  # a direct flush is scheduled (call_soon)
        self._task_busy = False  # the stream's task is sending what is pending: no direct write now

    def push(self, ev: Event) -> bool:
        """Queue an event; never waits. False if the subscription ended or was just dropped."""
        if self.ended:
            return False
        self.pending.append(ev)
        self.size += len(ev.wire)
        if self.size > STALL_CHECK_BYTES:
            channel = self.channel
            if why := channel.policy.over_limit(self.size):
                channel.drop(self, why)
                return False
            now = time.monotonic()
            if self.busy_since is None:
                self.busy_since = now
            elif why := channel.policy.stalled(self.busy_since, now):  # and the writer took nothing since
                channel.drop(self, why)
                return False
        if self.direct is not None and not self._task_busy:
            if not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._flush)
            return True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return True

    def frame(self, batch: list[Event]) -> bytes:
        """The bytes of a batch: events already replayed left out, the prefix before the first one."""
        if self.skip_upto and batch and batch[0].id <= self.skip_upto:
            batch = [ev for ev in batch if ev.id > self.skip_upto]
        if not batch:
            return b""
        body = batch[0].wire if len(batch) == 1 else b"".join([ev.wire for ev in batch])
        return self.prefix + body if self.prefix else body

    def sent(self) -> None:
        """What :meth:`frame` gave went out: the prefix (the stream's ``retry:``) was said."""
        self.prefix = b""

    def _flush(self) -> None:
        """Write everything pending this turn, at once; under backpressure, hand over to the task."""
        self._scheduled = False
        if self.ended or self._task_busy or not self.pending:
            return
        data = self.frame(self.pending)
        try:
            written = not data or self.direct(data)
        except ConnectionError:  # the client went away: the stream ends
            self.end()
            return
        if written:
            self.sent()
            self.pending, self.size, self.busy_since, self.idle_ticks = [], 0, None, 0
        else:  # still pending: the task sends it once the socket drains
            self._task_busy = True
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> list[Event] | None:
        """Everything queued since the last call (waiting for at least one event); ``[]`` when the
        channel's keep-alive tick finds it idle; ``None`` once the subscription ended."""
        if not self.pending and not self.ended:
            self._task_busy = False  # caught up: direct writes may resume
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        if self.ended:
            return None
        batch, self.pending = self.pending, []
        self.size, self.busy_since = 0, None
        self.idle_ticks = 0 if batch else self.idle_ticks
        if batch:
            self._task_busy = True  # until the task finds nothing more pending
        return batch

    def close(self) -> None:
        self.channel.unsubscribe(self)

    def end(self) -> None:
        """End the stream: the writer sends nothing more and finishes cleanly."""
        self.channel.unsubscribe(self)
        self.ended = True
        self.pending.clear()
        self._wake()


class Channel:
    """A stream of events with ids, a bounded log, and any number of subscribers."""

    def __init__(self, name: str, log_size: int = 1000, limit_bytes: int = 1 << 20, stall_timeout: float = 5.0) -> None:
        self.name = name
        self.log: collections.deque[Event] = collections.deque(maxlen=log_size)
        self.policy = SlowPolicy(limit_bytes, stall_timeout)
        self.next_id = 1
        self.subscribers: set[Subscription] = set()
        self.dropped = 0
        self._ticker: asyncio.Task | None = None  # keep-alive ticks, while there are subscribers

    async def _keepalive(self) -> None:
        """One task for all the channel's subscribers (not a timer per wake-up): a subscriber that
        got no event for :data:`KEEPALIVE` seconds is woken with nothing, and its writer pings."""
        ticks = 3
        while self.subscribers:
            await asyncio.sleep(KEEPALIVE / ticks)
            for sub in list(self.subscribers):
                sub.idle_ticks = 0 if sub.pending else sub.idle_ticks + 1
                if sub.idle_ticks >= ticks:
                    sub.idle_ticks = 0
                    sub._wake()
        self._ticker = None

    def publish(self, data: Any, event: str | None = None, id: int | None = None) -> int:
        """Log the event and queue it for every subscriber; returns how many got it.

        ``id`` is given when a broker assigned it (shared across processes); otherwise the
        channel numbers its events itself.
        """
        ev = Event(self.next_id if id is None else id, data, event)
        self.next_id = ev.id + 1
        self.log.append(ev)
        return sum(1 for sub in list(self.subscribers) if sub.push(ev))  # a snapshot: push() may drop

    def drop(self, sub: Subscription, reason: str) -> None:
        """The slow-subscriber policy: end its stream (it may resume by id), count it, say why."""
        if sub.ended:
            return
        self.dropped += 1
        log.warning("dropped an SSE subscriber of %s: %s", self.name, reason)
        sub.end()

    def subscribe(self, last_event_id: int | None = None) -> tuple[Subscription, list[Event], bool]:
        """Register a subscriber; return it, the events it missed, and whether history was lost.

        Replay and registration happen in one synchronous step, so nothing published meanwhile
        can fall in between (a gap) or be delivered twice (a repeat).
        """
        replay, lost = self.replay(last_event_id) if last_event_id is not None else ([], False)
        sub = Subscription(self)
        self.subscribers.add(sub)
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._keepalive(), name=f"keepalive-{self.name}")
        return sub, replay, lost

    def replay(self, last_event_id: int) -> tuple[list[Event], bool]:
        """The events after ``last_event_id``, and whether some were lost (unknown or too old an id)."""
        if log_lost(last_event_id, self.log[0].id if self.log else None, self.last_id):
            return [], True
        return [ev for ev in self.log if ev.id > last_event_id], False

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    @property
    def last_id(self) -> int:
        return self.next_id - 1
