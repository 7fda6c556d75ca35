"""The app's shared state: one object per app, reachable as ``app.state.lab``."""
from __future__ import annotations

import asyncio

from .settings import Settings


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Set when the server begins to shut down: streams end, loops stop.
        self.closing = asyncio.Event()

    def begin_shutdown(self) -> None:
        self.closing.set()
