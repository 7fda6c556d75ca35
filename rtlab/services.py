"""The app's shared state: one object per app, reachable as ``app.state.lab``."""
from __future__ import annotations

import asyncio

from .channels import Channel, Subscription
from .chat import ChatRooms
from .broker import make_broker
from .documents import Document
from .hub import Hub
from .notify import Notifier
from .settings import Settings


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Set when the server begins to shut down: streams end, loops stop.
        self.closing = asyncio.Event()
        self.hub = Hub(settings)
        self.chat = ChatRooms(self.hub, settings.history_size)
        self.notifier = Notifier(self.hub, settings.event_log_size)
        self.announcements = Channel("announcements", settings.event_log_size)
        self.subscriptions: set[Subscription] = set()  # live SSE subscriptions, every channel
        self.documents: dict[str, Document] = {}
        self.http_requests = 0  # counted by the app's middleware, read by the dashboard
        self.broker = make_broker(self)
        self.hub.bus = self.broker

    def document(self, doc_id: str) -> Document:
        doc = self.documents.get(doc_id)
        if doc is None:
            doc = self.documents[doc_id] = Document()
        return doc

    def begin_shutdown(self) -> None:
        """Streams end cleanly: tick loops see ``closing``; subscribers get their end marker."""
        self.closing.set()
        for sub in list(self.subscriptions):
            sub.end()

