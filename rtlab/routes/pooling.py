"""Several connections per user: pooling with a limit, multi-device sync, notifications, presence."""
from __future__ import annotations

from fastapi import APIRouter, Body, HTTPException, Query, Request, WebSocket
from pydantic import BaseModel, JsonValue

from ..messages import Ping, Text
from ..notify import ENDPOINT as NOTIFICATIONS
from ..notify import utc_now
from ..wsio import Inbound
from .common import bad_name, refuse, services

router = APIRouter()

_any_json = Inbound(JsonValue)
_ping = Inbound(Ping)


@router.websocket("/ws/pooled/{user_id}")
async def pooled(ws: WebSocket, user_id: str) -> None:
    """At most N connections per user (a setting, 3 by default); a message syncs to all of them."""
    if why := bad_name(user_id, "user id"):
        return await refuse(ws, why)
    lab = services(ws)
    hub, group = lab.hub, f"pooled:{user_id}"
    async with hub.connect(ws, "pooled", user=user_id, groups=[group],
                           limit=lab.settings.max_connections_per_user) as conn:
        if conn is None:
            return  # refused: over the limit
        conn.send({"type": "connected", "active_connections": await lab.broker.group_size(group)})
        async for data in conn.messages(_any_json):
            await lab.broker.publish(group, {"type": "sync", "data": data})


@router.websocket("/ws/notifications/{user_id}")
async def notifications(ws: WebSocket, user_id: str) -> None:
    """What ``POST /notify/{user_id}`` sends, on every connection of the user; ping answers pong."""
    if why := bad_name(user_id, "user id"):
        return await refuse(ws, why)
    hub = services(ws).hub
    async with hub.connect(ws, NOTIFICATIONS, user=user_id, groups=[f"{NOTIFICATIONS}:{user_id}"]) as conn:
        conn.send({"type": "connected", "message": "Notifications enabled"})
        async for _ in conn.messages(_ping):
            conn.send({"type": "pong"})


class NotifyBody(BaseModel):
    message: Text


@router.post("/notify/{user_id}")
async def notify(request: Request, user_id: str, message: Text | None = Query(None),
                 body: NotifyBody | None = Body(None)) -> dict:
    """Notify every WebSocket and SSE subscription of a user; says how many got it."""
    text = message if message is not None else (body.message if body else None)
    if text is None:
        raise HTTPException(422, "give the message as ?message= or a JSON body {\"message\": ...}")
    payload = {"type": "notification", "message": text, "timestamp": utc_now()}
    delivered = await request.app.state.lab.broker.notify(user_id, payload)
    if delivered:
        return {"status": "sent", "delivered": delivered}
    return {"status": "user not connected", "delivered": 0}


@router.get("/user/{user_id}/online")
async def online(request: Request, user_id: str) -> dict:
    """Whether the user has any connection, on any endpoint that names a user."""
    return {"online": await request.app.state.lab.broker.is_online(user_id)}


@router.get("/rooms/{room_id}")
async def presence(request: Request, room_id: str) -> dict:
    """Who is in a room (chat or room endpoint)."""
    bus = request.app.state.lab.broker
    users = sorted(set(await bus.group_users(f"chat:{room_id}")) | set(await bus.group_users(f"room:{room_id}")))
    return {"room": room_id, "users": users, "count": len(users)}
