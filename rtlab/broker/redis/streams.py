"""Resumable streams across processes: a Redis stream per room, a sorted set per event log.

A room message gets its id (the room's epoch and its stream id) and is published in the same
script (:data:`~.bus.SAY`); an event is logged and published in one (:data:`~.bus.LOG_PUBLISH`):
every node sees a stream in id order. While Redis is unreachable, this process's memory streams
stand in, for this process only.
"""
from __future__ import annotations

import json
import logging

from ... import groups
from ...channels import Channel, Event, Subscription
from ...history import Recovery, log_lost, make_id, new_epoch, recover, room_group
from ...notify import ENDPOINT as NOTIFICATIONS
from ...settings import Settings
from ..base import SSE, LogBounds, Presence, Subscribed
from ..memory.streams import MemoryStreams
from .bus import LOG_PUBLISH, Bus
from .link import Link, guarded
from .wire import Kind, chat_key, epoch_key, group_channel, log_key, seq_key

log = logging.getLogger("rtlab.broker")


def _json(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _log_group(user: str | None) -> str:
    """The group whose channel carries a log's events: a user's notifications, or the announcements."""
    return groups.ANNOUNCEMENTS if user is None else groups.notifications(user)


class RedisStreams:
    def __init__(self, link: Link, bus: Bus, presence: Presence, local: MemoryStreams, settings: Settings) -> None:
        self.link, self.bus, self.presence, self.local, self.settings = link, bus, presence, local, settings

    # -- chat rooms ----------------------------------------------------------------------------------
    async def say(self, room: str, message: dict) -> None:
        group = room_group(room)
        self.bus.say([chat_key(room), epoch_key(room)],
                     [self.settings.history_size, new_epoch(), group, group_channel(group)], _json(message),
                     fallback=lambda: self.local.say_now(room, message))

    async def recover(self, room: str, since: str | None) -> Recovery:
        try:
            pipe = self.link.redis.pipeline(transaction=True)
            pipe.get(epoch_key(room))
            pipe.xrange(chat_key(room))
            epoch, rows = await pipe.execute()
        except Exception as exc:
            log.warning("broker unavailable for the history: %s", exc)
            return await self.local.recover(room, since)
        kept = [{**json.loads(fields["m"]), "id": make_id(epoch, position)} for position, fields in rows]
        return recover(kept, epoch, since, self.settings.history_size, self.settings.history_max_bytes)

    # -- event logs ----------------------------------------------------------------------------------
    async def _log(self, log: str, user: str | None, kind: Kind, payload: dict) -> int | None:
        """Log and publish an event; its id, or None when Redis can't be reached."""
        group = _log_group(user)
        target = group if user is None else user
        future = self.bus.script(LOG_PUBLISH, [seq_key(log), log_key(log)],
                                 [_json(payload), self.settings.event_log_size, group_channel(group), kind.value,
                                  target])
        return await guarded(future, "the event log")

    async def notify(self, user: str, payload: dict) -> int:
        counts = await self.presence.endpoints_of(user)  # before sending: a subscriber may leave once it has it
        if await self._log(groups.notifications(user), user, Kind.NOTIFICATION, payload) is None:
            return await self.local.notify(user, payload)
        return counts.get(NOTIFICATIONS, 0) + counts.get(SSE, 0)

    async def announce(self, payload: dict) -> int:
        count = await self.presence.announcement_subscribers()
        if await self._log(groups.ANNOUNCEMENTS, None, Kind.ANNOUNCEMENT, payload) is None:
            return await self.local.announce(payload)
        return count

    async def subscribe(self, channel: Channel, last_id: int | None, user: str | None = None) -> Subscribed:
        # Take the log's live events here (confirmed), register locally, then read the shared log:
        # an event published meanwhile arrives live as well as in the replay, and the reader skips
        # ids it has replayed already.
        await self.bus.want([group_channel(_log_group(user))])
        sub, _, _ = channel.subscribe(None)
        await self.presence.sse_opened(user)
        replay, lost, upto = [], False, 0
        if last_id is not None:
            got = await guarded(self._read_log(channel.name, last_id), "event log")
            replay, lost = ([], True) if got is None else got
            if not lost:
                upto = replay[-1].id if replay else last_id
        return Subscribed(sub, replay, lost, upto)

    async def unsubscribe(self, channel: Channel, sub: Subscription, user: str | None = None) -> None:
        sub.close()
        await self.presence.sse_closed(user)
        await self.bus.unwant([group_channel(_log_group(user))])

    async def _bounds(self, log: str) -> LogBounds:
        pipe = self.link.redis.pipeline(transaction=True)
        pipe.zrange(log_key(log), 0, 0, withscores=True)
        pipe.get(seq_key(log))
        first, latest = await pipe.execute()
        return LogBounds(int(first[0][1]) if first else None, int(latest or 0))

    async def _read_log(self, log: str, last_id: int) -> tuple[list[Event], bool]:
        bounds = await self._bounds(log)
        if log_lost(last_id, bounds.oldest, bounds.latest):
            return [], True
        rows = await self.link.redis.zrangebyscore(log_key(log), f"({last_id}", "+inf", withscores=True)
        return [Event(int(score), json.loads(data)) for data, score in rows], False

    async def replay(self, channel: Channel, last_id: int) -> tuple[list[Event], bool]:
        got = await guarded(self._read_log(channel.name, last_id), "event log")
        return ([], True) if got is None else got

    async def log_bounds(self, channel: Channel) -> LogBounds:
        bounds = await guarded(self._bounds(channel.name), "event log")
        return bounds if bounds is not None else LogBounds(None, 0)
