"""The tutorial connection manager, kept to be measured against the hub. Do not copy it.

    class ConnectionManager:
        def __init__(self): self.active = []
        async def broadcast(self, message):
            for ws in self.active:
                await ws.send_text(message)     # waits for each client in turn

``await ws.send_text`` returns only when the server's transport accepts the bytes. Once a
client stops reading, its TCP window and the transport's buffer fill up, that await blocks,
and every client after it in the list waits too — for as long as the stalled one stalls.
"""
from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect

from ..messages import Say
from ..wsio import Closed, Inbound, receive_text, send_error, send_text

router = APIRouter()


_say = Inbound(Say)


def _limit(ws: WebSocket) -> int:
    return ws.app.state.services.settings.max_message_bytes


def _naive(conn) -> "Naive":
    """The tutorial endpoints' state, built here on first use: the services know nothing of it."""
    state = conn.app.state
    naive = getattr(state, "naive", None)
    if naive is None:
        naive = state.naive = Naive(state.services.settings.max_connections_per_user)
    return naive


class ConnectionManager:
    def __init__(self) -> None:
        self.active: list[WebSocket] = []

    async def connect(self, ws: WebSocket) -> None:
        await ws.accept()
        self.active.append(ws)

    def disconnect(self, ws: WebSocket) -> None:
        if ws in self.active:
            self.active.remove(ws)

    async def broadcast(self, message: str) -> None:
        for ws in list(self.active):
            try:
                await ws.send_text(message)  # the flaw this keeps: each client awaited in turn
            except (WebSocketDisconnect, OSError, RuntimeError):
                self.disconnect(ws)  # (a client gone mid-loop must not break the sender's handler)


@router.websocket("/ws/naive/broadcast")
async def naive_broadcast(ws: WebSocket, username: str = "anonymous") -> None:
    """The tutorial broadcast loop (for comparison only): ``{"message": M}`` to all, one await at a time."""
    manager = _naive(ws).manager
    await manager.connect(ws)
    try:
        while True:
            # Input is read safely here too (the lesson is the loop below, not the parsing).
            text = await receive_text(ws, _limit(ws))
            try:
                message = _say.parse(text).message
            except ValueError as exc:
                await send_error(ws, str(exc))
                continue
            await manager.broadcast(json.dumps({"type": "message", "username": username, "message": message}))
    except (Closed, WebSocketDisconnect):
        pass
    finally:
        manager.disconnect(ws)


# -- check-then-act: a per-user limit that simultaneous connects walk straight through ------------
class NaivePool:
    """``if len(pool[user]) >= limit: refuse`` ... ``await ws.accept()`` ... ``pool[user].append(ws)``.

    The check and the append are separated by an ``await``: ten connects that arrive together
    all pass the check before the first one appends.
    """

    def __init__(self, limit: int = 3) -> None:
        self.limit = limit
        self.pool: dict[str, list[WebSocket]] = {}


class Naive:
    """The state of the tutorial endpoints: a manager, a pool, a socket per user id."""

    def __init__(self, limit: int) -> None:
        self.manager = ConnectionManager()
        self.pool = NaivePool(limit)
        self.users: dict[str, WebSocket] = {}


async def load_user(user_id: str) -> dict:
    """A stand-in for the database lookup real endpoints do between admitting and registering.

    100 ms is a slow lookup; it keeps the window wide enough that the race shows on a loaded
    machine too. A faster lookup narrows the window but never closes it.
    """
    await asyncio.sleep(0.1)
    return {"id": user_id}


@router.websocket("/ws/naive/pooled/{user_id}")
async def naive_pooled(ws: WebSocket, user_id: str) -> None:
    """The tutorial per-user limit (for comparison only): check, await, then act."""
    pool = _naive(ws).pool
    if len(pool.pool.get(user_id, [])) >= pool.limit:  # check...
        await ws.close(1008)
        return
    await load_user(user_id)                            # ...await: everyone else runs here...
    await ws.accept()
    pool.pool.setdefault(user_id, []).append(ws)        # ...act
    try:
        await send_text(ws, json.dumps({"type": "connected", "active_connections": len(pool.pool[user_id])}))
        while True:
            await receive_text(ws, _limit(ws))
    except (Closed, WebSocketDisconnect):
        pass
    finally:
        pool.pool[user_id].remove(ws)


# -- one socket per user id: the last tab wins ------------------------------------------------------
@router.websocket("/ws/naive/notifications/{user_id}")
async def naive_notifications(ws: WebSocket, user_id: str) -> None:
    """The tutorial ``connections[user_id] = websocket`` (for comparison only)."""
    sockets = _naive(ws).users
    await ws.accept()
    sockets[user_id] = ws  # a second tab silently replaces the first
    try:
        while True:
            await receive_text(ws, _limit(ws))
    except (Closed, WebSocketDisconnect):
        pass
    finally:
        if sockets.get(user_id) is ws:
            del sockets[user_id]


@router.post("/naive/notify/{user_id}")
async def naive_notify(request: Request, user_id: str, message: str) -> dict:
    """Send to the one socket the naive dict remembers for the user."""
    ws = _naive(request).users.get(user_id)
    if ws is None:
        return {"status": "user not connected", "delivered": 0}
    try:
        await send_text(ws, json.dumps({"type": "notification", "message": message}))
    except Closed:
        return {"status": "user not connected", "delivered": 0}
    return {"status": "sent", "delivered": 1}
