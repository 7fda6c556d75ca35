"""The app's state: one object per app, ``app.state.services``, made of named parts."""
from __future__ import annotations

import asyncio

from .broker import Local, make_broker
from .broker.memory import Documents, PoolLimits
from .channels import Channel, Subscription
from .history import History
from .hub import Hub
from .notify import Notifier
from .settings import Settings


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Set when the server begins to shut down: streams end, loops stop.
        self.closing = asyncio.Event()
        self.hub = Hub(settings)  # this process's WebSockets
        # per-user notification logs and SSE subscribers, with the hub's slow-consumer limits
        self.notifier = Notifier(settings.event_log_size, limit_bytes=settings.outbox_limit_bytes,
                                 stall_timeout=settings.stall_timeout)
        self.announcements = Channel("announcements", settings.event_log_size, settings.outbox_limit_bytes,
                                     settings.stall_timeout)
        self.history = History(settings.history_size, settings.history_max_bytes)  # chat rooms, in this process
        self.documents = Documents()  # shared documents, in this process
        self.pools = PoolLimits()  # per-user connection limits taken in this process
        self.broker = make_broker(Local(settings, self.hub, self.notifier, self.announcements, self.history,
                                        self.documents, self.pools))
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
