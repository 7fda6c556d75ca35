"""Resumable streams in one process: the rooms' history, the notification and announcement logs."""
from __future__ import annotations

from ...channels import Channel, Event, Subscription
from ...history import History, Recovery, key_of, room_group
from ...hub import Outgoing
from ...notify import Notifier
from ..base import Delivery, LogBounds, Subscribed
from .presence import MemoryPresence


class MemoryStreams:
    def __init__(self, delivery: Delivery, presence: MemoryPresence, history: History, notifier: Notifier,
                 announcements: Channel) -> None:
        self.delivery, self.presence = delivery, presence
        self.history, self.notifier, self.announcements = history, notifier, announcements

    async def say(self, room: str, message: dict) -> None:
        self.say_now(room, message)

    def say_now(self, room: str, message: dict) -> None:
        message = self.history.add(room, message)
        self.delivery.to_group(room_group(room), Outgoing(message, key=key_of(message)))

    async def recover(self, room: str, since: str | None) -> Recovery:
        return self.history.recover(room, since)

    async def notify(self, user: str, payload: dict) -> int:
        return self.delivery.notification(user, payload, self.notifier.channel(user).next_id)

    async def announce(self, payload: dict) -> int:
        return self.delivery.announcement(payload, self.announcements.next_id)

    async def subscribe(self, channel: Channel, last_id: int | None, user: str | None = None) -> Subscribed:
        sub, replay, lost = channel.subscribe(last_id)  # replay and registration in one step: no gap
        await self.presence.sse_opened(user)
        return Subscribed(sub, replay, lost)

    async def unsubscribe(self, channel: Channel, sub: Subscription, user: str | None = None) -> None:
        sub.close()
        await self.presence.sse_closed(user)

    async def replay(self, channel: Channel, last_id: int) -> tuple[list[Event], bool]:
        return channel.replay(last_id)

    async def log_bounds(self, channel: Channel) -> LogBounds:
        return LogBounds(channel.log[0].id if channel.log else None, channel.last_id)
