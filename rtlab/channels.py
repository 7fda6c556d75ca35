"""Fan-out for Server-Sent Events: one bounded queue per subscriber, and a bounded event log.

The tutorial version shares one ``asyncio.Queue`` among all subscribers: each event then goes
to whichever subscriber happens to ``get()`` it first, and every other subscriber misses it.
A :class:`Channel` gives each subscriber its own queue, so every subscriber gets every event,
in order. Events carry increasing ids and stay in a bounded log, so a client that reconnects
with ``Last-Event-ID`` first gets what it missed.
"""
from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field
from typing import Any

from .wsio import dumps


@dataclass(slots=True)
class Event:
    id: int
    data: Any
    event: str | None = None
    _json: str | None = field(default=None, repr=False, compare=False)

    @property
    def json(self) -> str:
        """The data as JSON, serialized once however many subscribers send it."""
        if self._json is None:
            self._json = dumps(self.data)
        return self._json


@dataclass(eq=False)
class Subscription:
    channel: "Channel"
    queue: asyncio.Queue = field(repr=False)
    overflowed: bool = False

    async def next(self) -> Event | None:
        """The next event; ``None`` once the subscription was dropped for falling behind."""
        return await self.queue.get()

    def close(self) -> None:
        self.channel.unsubscribe(self)

    def end(self) -> None:
        """Wake the reader with the end marker, dropping whatever it had not read yet."""
        self.channel.unsubscribe(self)
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Channel:
    """A stream of events with ids, a bounded log, and any number of subscribers."""

    def __init__(self, name: str, log_size: int = 1000, queue_size: int = 1000) -> None:
        self.name = name
        self.log: collections.deque[Event] = collections.deque(maxlen=log_size)
        self.queue_size = queue_size
        self.next_id = 1
        self.subscribers: set[Subscription] = set()
        self.dropped = 0

    def publish(self, data: Any, event: str | None = None, id: int | None = None) -> int:
        """Log the event and queue it for every subscriber; returns how many got it.

        ``id`` is given when a broker assigned it (shared across processes); otherwise the
        channel numbers its events itself.
        """
        ev = Event(self.next_id if id is None else id, data, event)
        self.next_id = ev.id + 1
        self.log.append(ev)
        delivered = 0
        for sub in list(self.subscribers):
            try:
                sub.queue.put_nowait(ev)
                delivered += 1
            except asyncio.QueueFull:
                self._drop(sub)
        return delivered

    def _drop(self, sub: Subscription) -> None:
        """A subscriber that fell a whole queue behind: end its stream (it may resume by id)."""
        sub.overflowed = True
        self.dropped += 1
        sub.end()

    def subscribe(self, last_event_id: int | None = None) -> tuple[Subscription, list[Event], bool]:
        """Register a subscriber; return it, the events it missed, and whether history was lost.

        Replay and registration happen in one synchronous step, so nothing published meanwhile
        can fall in between (a gap) or be delivered twice (a repeat).
        """
        replay, lost = self.replay(last_event_id) if last_event_id is not None else ([], False)
        sub = Subscription(self, asyncio.Queue(self.queue_size))
        self.subscribers.add(sub)
        return sub, replay, lost

    def replay(self, last_event_id: int) -> tuple[list[Event], bool]:
        """The events after ``last_event_id``, and whether some were lost (unknown or too old an id)."""
        oldest = self.log[0].id if self.log else self.next_id
        if last_event_id >= self.next_id or last_event_id < oldest - 1:
            return [], True  # unknown (from the future, or another server run) or older than the log
        return [ev for ev in self.log if ev.id > last_event_id], False

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    @property
    def last_id(self) -> int:
        return self.next_id - 1
