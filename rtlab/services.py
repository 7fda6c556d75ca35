"""The app's state: one object per app, ``app.state.services``, made of named parts."""
from __future__ import annotations

import asyncio

from . import groups
from .broker import make_broker
from .broker.stores import Documents, PoolLimits
from .channels import Channel, Subscription
from .history import History
from .hub import Hub, Outgoing
from .notify import Notifier
from .settings import Settings


class LocalDelivery:
    """What the broker delivers to (:class:`rtlab.broker.Delivery`): this process's hub and SSE channels."""

    def __init__(self, hub: Hub, notifier: Notifier, announcements: Channel) -> None:
        self.hub, self.notifier, self.announcements = hub, notifier, announcements

    def to_group(self, group: str, item: Outgoing, exclude: int | None = None) -> int:
        return self.hub.publish(group, item, exclude=self.hub.by_id.get(exclude) if exclude is not None else None)

    def to_user(self, user: str, item: Outgoing, endpoint: str) -> int:
        return self.hub.send_to_user(user, item, endpoint=endpoint)

    def to_connection(self, conn_id: int, item: Outgoing) -> int:
        conn = self.hub.by_id.get(conn_id)
        return int(conn is not None and conn.send(item))

    def notification(self, user: str, payload: dict, event_id: int) -> int:
        # A WebSocket client gets it with the id its SSE twin shows, and that id orders it (release()).
        to_ws = self.hub.publish(groups.notifications(user), Outgoing({**payload, "id": str(event_id)},
                                                                      key=(event_id, 0)))
        return to_ws + self.notifier.channel(user).publish(payload, id=event_id)

    def announcement(self, payload: dict, event_id: int) -> int:
        return self.announcements.publish(payload, id=event_id)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Set when the server begins to shut down: streams end, loops stop.
        self.closing = asyncio.Event()
        self.hub = Hub(settings)  # this process's WebSockets
        # per-user notification logs and SSE subscribers, with the hub's slow-consumer limits
        self.notifier = Notifier(settings.event_log_size, limit_bytes=settings.outbox_limit_bytes,
                                 stall_timeout=settings.stall_timeout)
        self.announcements = Channel(groups.ANNOUNCEMENTS, settings.event_log_size, settings.outbox_limit_bytes,
                                     settings.stall_timeout)
        self.history = History(settings.history_size, settings.history_max_bytes)  # chat rooms, in this process
        self.documents = Documents()  # shared documents, in this process
        self.pools = PoolLimits()  # per-user connection limits taken in this process
        self.delivery = LocalDelivery(self.hub, self.notifier, self.announcements)
        self.broker = make_broker(settings, self.delivery, self.history, self.notifier, self.announcements,
                                  self.documents, self.pools)
        self.http_requests = 0  # counted by the app's middleware, read by the dashboard
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's event loop, once it runs

    @property
    def subscriptions(self) -> list[Subscription]:
        """Every live SSE subscription, of every channel (the channels hold them)."""
        subs = list(self.announcements.subscribers)
        for channel in self.notifier.channels.values():
            subs += channel.subscribers
        return subs

    def begin_shutdown(self) -> None:
        """Streams end cleanly: tick loops see ``closing``; subscribers get their end marker."""
        self.closing.set()
        for sub in self.subscriptions:
            sub.end()
