"""Broadcasting, rooms, chat and private messages.

Sockets live in the hub; everything that concerns more than one connection goes through the
broker, so that the same code serves one process or many.
"""
from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ..messages import ChatPrivate, ChatText, ChatTyping, Say, Whisper
from ..notify import utc_now
from ..wsio import Inbound
from .common import bad_name, refuse, services

router = APIRouter()

_say = Inbound(Say)
_whisper = Inbound(Whisper)
_chat = Inbound(ChatText, ChatPrivate, ChatTyping)


async def _group_session(ws: WebSocket, username: str, group: str, endpoint: str,
                         joined: str, left: str, size: str) -> None:
    """Join a group; announce it to the others; relay ``{"message": M}`` to all; announce leaving."""
    lab = services(ws)
    hub, bus = lab.hub, lab.broker
    async with hub.connect(ws, endpoint, user=username, groups=[group]) as conn:
        await bus.publish(group, {"type": joined, "username": username, size: await bus.group_size(group)},
                          exclude=conn)
        try:
            async for msg in conn.messages(_say):
                await bus.publish(group, {"type": "message", "username": username, "message": msg.message})
        finally:
            hub.remove(conn)
            await bus.left(conn)
            await bus.publish(group, {"type": left, "username": username, size: await bus.group_size(group)})


@router.websocket("/ws/broadcast")
async def broadcast(ws: WebSocket, username: str | None = None) -> None:
    """Everyone on this endpoint: join/leave with a count; ``{"message": M}`` goes to all."""
    if why := bad_name(username):
        return await refuse(ws, why)
    await _group_session(ws, username, "broadcast", "broadcast", "join", "leave", "count")


@router.websocket("/ws/room/{room_id}")
async def room(ws: WebSocket, room_id: str, username: str | None = None) -> None:
    """A room: the others see ``user_joined``/``user_left`` with ``room_size``; messages stay inside."""
    if why := bad_name(username) or bad_name(room_id, "room"):
        return await refuse(ws, why)
    await _group_session(ws, username, f"room:{room_id}", "room", "user_joined", "user_left", "room_size")


@router.websocket("/ws/chat/{room_id}")
async def chat(ws: WebSocket, room_id: str, username: str | None = None) -> None:
    """Chat: history on join, presence, messages, private messages with delivery status, typing."""
    if why := bad_name(username) or bad_name(room_id, "room"):
        return await refuse(ws, why)
    lab = services(ws)
    hub, bus = lab.hub, lab.broker
    group = lab.chat.group(room_id)

    async def system(text: str) -> dict:
        return {"type": "system", "message": text, "timestamp": utc_now(),
                "users_count": len(await bus.group_users(group))}

    async with hub.connect(ws, "chat", user=username) as conn:
        conn.send({"type": "history", "messages": await bus.history(room_id)})
        await hub.enter(conn, group)
        await bus.publish(group, await system(f"{username} joined the room"))
        try:
            async for msg in conn.messages(_chat):
                if isinstance(msg, ChatText):
                    out = {"type": "message", "username": username, "message": msg.message, "timestamp": utc_now()}
                    await bus.history_add(room_id, out)
                    await bus.publish(group, out)
                elif isinstance(msg, ChatPrivate):
                    sent = await bus.send_to_user(msg.to, {"type": "private", "from": username, "message": msg.message,
                                                           "timestamp": utc_now()}, endpoint="chat")
                    conn.send({"type": "delivery", "sent": sent > 0})
                else:
                    await bus.publish(group, {"type": "typing", "username": username}, exclude=conn)
        finally:
            hub.remove(conn)
            await bus.left(conn)
            await bus.publish(group, await system(f"{username} left the room"))


@router.websocket("/ws/private/{user_id}")
async def private(ws: WebSocket, user_id: str) -> None:
    """Direct messages: ``{"to": V, "message": M}``; the sender learns whether V got it."""
    if why := bad_name(user_id, "user id"):
        return await refuse(ws, why)
    lab = services(ws)
    async with lab.hub.connect(ws, "private", user=user_id) as conn:
        async for msg in conn.messages(_whisper):
            delivered = await lab.broker.send_to_user(
                msg.to, {"type": "private_message", "from": user_id, "message": msg.message}, endpoint="private")
            conn.send({"type": "delivery_status", "to": msg.to, "delivered": delivered > 0})
