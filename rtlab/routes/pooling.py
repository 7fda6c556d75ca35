"""Notebook 06: several connections per user, with a limit; multi-device sync; who is online."""
from __future__ import annotations

from fastapi import APIRouter, Request, WebSocket
from pydantic import JsonValue

from ..session import session
from ..wsio import Inbound
from .common import bad_name, refuse, services_of

router = APIRouter()

_any_json = Inbound(JsonValue)


@router.websocket("/ws/pooled/{user_id}")
async def pooled(ws: WebSocket, user_id: str) -> None:
    """At most N connections per user (a setting, 3 by default); a message syncs to all of them."""
    if why := bad_name(user_id, "user id"):
        return await refuse(ws, why)
    services = services_of(ws)
    broker, group = services.broker, f"pooled:{user_id}"
    async with session(services, ws, "pooled", user=user_id, groups=[group],
                       limit=services.settings.max_connections_per_user) as conn:
        if conn is None:
            return  # refused: over the limit
        conn.send({"type": "connected", "active_connections": await broker.presence.group_size(group)})
        async for data in conn.messages(_any_json):
            await broker.fanout.publish(group, {"type": "sync", "data": data})


@router.get("/user/{user_id}/online")
async def online(request: Request, user_id: str) -> dict:
    """Whether the user has any connection, on any endpoint that names a user."""
    return {"online": await services_of(request).broker.presence.is_online(user_id)}
