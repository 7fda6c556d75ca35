"""Notebook 08: real-time apps: the chat page, a live dashboard, collaborative editing, a price stream."""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from importlib import resources

import psutil
from fastapi import APIRouter, Query, WebSocket
from fastapi.responses import HTMLResponse

from .. import groups
from ..hub import Connection
from ..messages import DocEdit, Ping, utc_now
from ..ot import OTError
from ..session import session
from ..wsio import TRY_AGAIN_LATER, Inbound, close_quietly
from .common import bad_name, refuse, services_of

router = APIRouter()

_CHAT_PAGE = resources.files("rtlab").joinpath("static/chat.html").read_text(encoding="utf-8")
_ping = Inbound(Ping)
_doc_edit = Inbound(DocEdit)


@router.get("/", response_class=HTMLResponse)
async def chat_page() -> HTMLResponse:
    """The browser chat client (``?room=`` and ``?username=``)."""
    return HTMLResponse(_CHAT_PAGE)


async def stream_to(conn: Connection, interval: float, make: Callable[[], dict]) -> None:
    """Send ``make()`` every ``interval`` seconds until the client leaves or the server stops.

    Reading continues meanwhile (pings answered, bad input answered), which is also how the
    endpoint learns that the client went away.
    """
    closing = services_of(conn).closing

    async def read() -> None:
        async for _ in conn.messages(_ping):
            conn.send({"type": "pong"})

    # Two tasks for the whole stream, whatever its length: the reader, and one waiter on shutdown.
    # (A new waiter per tick, never cancelled, piled up one pending task per interval.)
    reader = asyncio.create_task(read())
    stopping = asyncio.create_task(closing.wait())
    try:
        while not (reader.done() or stopping.done()):
            conn.send(make())
            await asyncio.wait([reader, stopping], timeout=interval, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reader.cancel()
        stopping.cancel()


class DashboardProbe:
    """Figures of the running server, as rates over the time since the previous sample."""

    def __init__(self, services) -> None:
        self.services = services
        self.proc = psutil.Process()
        # CPU from the process's own CPU clock (nanoseconds), not psutil's cpu_percent(), whose
        # 10 ms ticks move a quarter-second gauge in steps of 4 %.
        self.last = (time.monotonic(), time.process_time(), services.http_requests, services.hub.metrics.messages_in)

    def sample(self) -> dict:
        services, hub = self.services, self.services.hub
        now, cpu = time.monotonic(), time.process_time()
        requests, messages = services.http_requests, hub.metrics.messages_in
        then, cpu0, requests0, messages0 = self.last
        self.last = (now, cpu, requests, messages)
        elapsed = max(now - then, 1e-6)
        sse_users = {u for u, ch in services.notifier.channels.items() if ch.subscribers}
        return {
            "timestamp": utc_now(),
            "cpu_usage": round((cpu - cpu0) / elapsed * 100, 1),
            "memory_usage": round(self.proc.memory_percent(), 2),
            "memory_rss_mb": round(self.proc.memory_info().rss / 2**20, 1),
            "requests_per_second": round((requests - requests0) / elapsed, 1),
            "messages_per_second": round((messages - messages0) / elapsed, 1),
            "connections": hub.count_by_endpoint(),
            "sse_subscriptions": len(services.subscriptions),
            "active_users": len(set(hub.users) | sse_users),
        }


@router.websocket("/ws/dashboard")
async def dashboard(ws: WebSocket, interval: float = Query(1.0, ge=0.05, le=3600, allow_inf_nan=False)) -> None:
    """Every ``interval`` seconds: CPU, memory, request and message rates, connections, active users."""
    services = services_of(ws)
    async with session(services, ws, "dashboard") as conn:
        await stream_to(conn, interval, DashboardProbe(services).sample)


@router.websocket("/ws/stocks")
async def stocks(ws: WebSocket, symbol: str = Query("ACME", min_length=1, max_length=12),
                 interval: float = Query(1.0, ge=0.01, le=3600, allow_inf_nan=False)) -> None:
    """A seeded random walk: ``{"symbol", "price", "change", "volume"}`` every ``interval`` seconds."""
    rng = random.Random(symbol)
    state = {"price": round(rng.uniform(50, 500), 2)}

    def tick() -> dict:
        change = round(state["price"] * rng.gauss(0, 0.01), 2)
        state["price"] = max(0.01, round(state["price"] + change, 2))
        return {"symbol": symbol, "price": state["price"], "change": change, "volume": rng.randint(100, 10_000)}

    async with session(services_of(ws), ws, "stocks") as conn:
        await stream_to(conn, interval, tick)


@router.websocket("/ws/document/{doc_id}")
async def document(ws: WebSocket, doc_id: str, user_id: str | None = None) -> None:
    """Collaborative editing with operational transformation (see ``rtlab.ot``)."""
    if why := bad_name(user_id, "user_id") or bad_name(doc_id, "document id"):
        return await refuse(ws, why)
    services = services_of(ws)
    broker, group = services.broker, groups.document(doc_id)

    async def left(conn: Connection) -> None:
        await broker.fanout.publish(group, {"type": "user_left", "user_id": user_id})

    # Held from before the state is read until the state is sent: an edit committed meanwhile is
    # either in the state (and dropped from what was held) or sent after it, never before it.
    async with session(services, ws, "document", user=user_id, groups=[group], hold=True, left=left) as conn:
        try:
            state = await broker.documents.state(doc_id)
        except OTError as exc:
            await close_quietly(ws, TRY_AGAIN_LATER, str(exc))
            return
        conn.release((state.version, 0), first=[{"type": "init", "content": state.content, "version": state.version}])
        await broker.fanout.publish(group, {"type": "user_joined", "user_id": user_id}, exclude=conn)
        async for msg in conn.messages(_doc_edit):
            try:
                await broker.documents.edit(doc_id, conn, msg.version, msg.op_wire(), msg.content)
            except OTError as exc:
                conn.send({"type": "error", "detail": str(exc)})
