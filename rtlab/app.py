"""The app factory: ``create_app(settings)`` builds a fresh FastAPI app with every route."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute

from . import internals
from ._version import __version__
from .broker import BrokerUnavailable
from .origin import OriginGuard
from .routes import ROUTERS
from .services import Services
from .settings import Settings

__all__ = ["create_app", "route_table"]

log = logging.getLogger("rtlab")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    services = Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        internals.warn_once()
        services.loop = asyncio.get_running_loop()
        try:
            await services.broker.start()
        except BrokerUnavailable as exc:
            log.error("%s", exc)
            raise
        try:
            yield
        finally:
            await services.broker.stop()

    app = FastAPI(title="rtlab", version=__version__, lifespan=lifespan,
                  description="A lab server for WebSockets and Server-Sent Events.")
    app.state.services = services
    app.add_middleware(OriginGuard, allowed=settings.allowed_origins)
    app.add_middleware(RequestCounter, services=services)
    for router in ROUTERS:
        app.include_router(router)
    return app


class RequestCounter:
    """Counts HTTP requests for the dashboard's requests per second."""

    def __init__(self, app, services: Services) -> None:
        self.app = app
        self.services = services

    def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.services.http_requests += 1
        return self.app(scope, receive, send)  # no frame of ours held per connection (see OriginGuard)


def route_table() -> list[tuple[str, str, str]]:
    """(method or WS, path, first line of the docstring) for every route of the lab."""
    rows = []
    for router in ROUTERS:
        for route in router.routes:
            doc = (route.endpoint.__doc__ or "").strip().splitlines()
            summary = doc[0].replace("``", "") if doc else ""
            if isinstance(route, APIWebSocketRoute):
                rows.append(("WS", route.path, summary))
            elif isinstance(route, APIRoute):
                rows.append(("/".join(sorted(route.methods)), route.path, summary))
    return rows
