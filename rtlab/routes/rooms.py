"""Notebooks 04–05: broadcasting, rooms, chat (resumable), private messages, presence.

Sockets live in the hub; everything that concerns more than one connection goes through the
broker, so that the same code serves one process or many. Every endpoint here goes through the
one session lifecycle (:mod:`rtlab.session`).
"""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, WebSocket

from .. import groups
from ..history import key_of, parse_id, room_group
from ..hub import Connection
from ..messages import ChatPrivate, ChatTyping, Message, Say, Whisper, utc_now
from ..session import session
from ..wsio import Inbound
from .common import bad_name, refuse, services_of

router = APIRouter()

_say = Inbound(Say)
_whisper = Inbound(Whisper)
_chat = Inbound(Message, ChatPrivate, ChatTyping)


@dataclass(frozen=True)
class GroupKind:
    """How an endpoint's group announces members: the message types and the size field."""

    endpoint: str
    joined: str
    left: str
    size: str


BROADCAST = GroupKind("broadcast", "join", "leave", "count")
ROOM = GroupKind("room", "user_joined", "user_left", "room_size")


async def _group_session(ws: WebSocket, username: str, group: str, kind: GroupKind) -> None:
    """Join a group; announce it to the others; relay ``{"message": M}`` to all; announce leaving."""
    services = services_of(ws)
    broker = services.broker

    async def announce(what: str, exclude: Connection | None) -> None:
        size = await broker.presence.group_size(group)
        await broker.fanout.publish(group, {"type": what, "username": username, kind.size: size}, exclude=exclude)

    async with session(services, ws, kind.endpoint, user=username, groups=[group],
                       joined=lambda conn: announce(kind.joined, conn),
                       left=lambda conn: announce(kind.left, None)) as conn:
        async for msg in conn.messages(_say):
            await broker.fanout.publish(group, {"type": "message", "username": username, "message": msg.message})


@router.websocket("/ws/broadcast")
async def broadcast(ws: WebSocket, username: str | None = None) -> None:
    """Everyone on this endpoint: join/leave with a count; ``{"message": M}`` goes to all."""
    if why := bad_name(username):
        return await refuse(ws, why)
    await _group_session(ws, username, groups.BROADCAST, BROADCAST)


@router.websocket("/ws/room/{room_id}")
async def room(ws: WebSocket, room_id: str, username: str | None = None) -> None:
    """A room: the others see ``user_joined``/``user_left`` with ``room_size``; messages stay inside."""
    if why := bad_name(username) or bad_name(room_id, "room"):
        return await refuse(ws, why)
    await _group_session(ws, username, groups.room(room_id), ROOM)


@router.websocket("/ws/chat/{room_id}")
async def chat(ws: WebSocket, room_id: str, username: str | None = None,
               since: str | None = None) -> None:
    """Chat: history on join (resumable with ``?since=ID``), presence, messages, private messages, typing."""
    if why := bad_name(username) or bad_name(room_id, "room"):
        return await refuse(ws, why)
    services = services_of(ws)
    broker, group = services.broker, room_group(room_id)

    async def system(text: str) -> None:
        await broker.fanout.publish(group, {"type": "system", "message": text, "timestamp": utc_now(),
                                     "users_count": len(await broker.presence.group_users(group))})

    async def joined(conn: Connection) -> None:
        # The connection was held since before the history was read: live messages wait, then
        # follow the history minus those it already holds (no gap, no repeat).
        recovery = await broker.streams.recover(room_id, since)
        messages = recovery.messages
        after = key_of(messages[-1]) if messages else (parse_id(since)[1] if recovery.recovered else None)
        conn.release(after, first=[{"type": "history", "messages": messages, "recovered": recovery.recovered}])
        await system(f"{username} joined the room")

    async with session(services, ws, "chat", user=username, groups=[group], hold=True, joined=joined,
                       left=lambda conn: system(f"{username} left the room")) as conn:
        async for msg in conn.messages(_chat):
            if isinstance(msg, Message):
                await broker.streams.say(room_id, {"type": "message", "username": username, "message": msg.message,
                                           "timestamp": utc_now()})
            elif isinstance(msg, ChatPrivate):
                private = {"type": "private", "from": username, "message": msg.message, "timestamp": utc_now()}
                sent = await broker.fanout.send_to_user(msg.to, private, endpoint="chat")
                conn.send({"type": "delivery", "sent": sent > 0})
            else:
                await broker.fanout.publish(group, {"type": "typing", "username": username}, exclude=conn)


@router.websocket("/ws/private/{user_id}")
async def private(ws: WebSocket, user_id: str) -> None:
    """Direct messages: ``{"to": V, "message": M}``; the sender learns whether V got it."""
    if why := bad_name(user_id, "user id"):
        return await refuse(ws, why)
    services = services_of(ws)
    async with session(services, ws, "private", user=user_id) as conn:
        async for msg in conn.messages(_whisper):
            delivered = await services.broker.fanout.send_to_user(
                msg.to, {"type": "private_message", "from": user_id, "message": msg.message}, endpoint="private")
            conn.send({"type": "delivery_status", "to": msg.to, "delivered": delivered > 0})


@router.get("/rooms/{room_id}")
async def presence(request: Request, room_id: str) -> dict:
    """Who is in a room (chat or room endpoint)."""
    broker = services_of(request).broker
    users = sorted(set(await broker.presence.group_users(room_group(room_id)))
                   | set(await broker.presence.group_users(groups.room(room_id))))
    return {"room": room_id, "users": users, "count": len(users)}
