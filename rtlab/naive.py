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

import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

router = APIRouter()


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
            await ws.send_text(message)


@router.websocket("/ws/naive/broadcast")
async def naive_broadcast(ws: WebSocket, username: str = "anonymous") -> None:
    """The tutorial broadcast loop (for comparison only): ``{"message": M}`` to all, one await at a time."""
    manager: ConnectionManager = ws.app.state.naive
    await manager.connect(ws)
    try:
        while True:
            data = json.loads(await ws.receive_text())
            await manager.broadcast(json.dumps({"type": "message", "username": username, "message": data["message"]}))
    except (WebSocketDisconnect, ValueError, KeyError):
        pass
    finally:
        manager.disconnect(ws)
