"""Notebooks 06–08: notifications, one service for WebSocket and SSE subscribers alike.

``POST /notify/{user}`` logs the notification (it gets an id) and reaches *every* connection of
the user (all tabs, all devices), on ``/ws/notifications/{user}`` and ``/sse/notifications/{user}``.
Both resume: SSE with ``Last-Event-ID``, WebSocket with ``?since=ID``.
"""
from __future__ import annotations

from fastapi import APIRouter, Body, HTTPException, Query, Request, WebSocket
from pydantic import BaseModel

from ..hub import Connection
from ..messages import Ping, Text, utc_now
from ..notify import ENDPOINT, group_of
from ..session import session
from ..wsio import Inbound
from .common import bad_name, refuse, services_of
from .sse import EventStream, LastEventId, Limit

router = APIRouter()

_ping = Inbound(Ping)


@router.websocket("/ws/notifications/{user_id}")
async def notifications(ws: WebSocket, user_id: str, since: str | None = None) -> None:
    """What ``POST /notify/{user_id}`` sends, on every connection of the user; ``?since=ID`` resumes."""
    if why := bad_name(user_id, "user id"):
        return await refuse(ws, why)
    services = services_of(ws)

    async def joined(conn: Connection) -> None:
        # Held since before the log was read: live notifications wait, then follow the replay
        # minus those it holds already (no gap, no repeat).
        first: list[dict] = [{"type": "connected", "message": "Notifications enabled"}]
        after = None
        if since is not None:
            channel = services.notifier.channel(user_id)  # (only then: an idle connection holds no log)
            events, lost = await services.broker.streams.replay(channel, int(since)) if since.isdigit() else ([], True)
            if lost:
                bounds = await services.broker.streams.log_bounds(channel)
                first.append({"type": "history_lost", "since": since, "oldest_available": bounds.oldest,
                              "latest": bounds.latest})
            else:
                first += [{**ev.data, "id": str(ev.id)} for ev in events]
                after = (events[-1].id if events else int(since), 0)
        conn.release(after, first=first)

    async with session(services, ws, ENDPOINT, user=user_id, groups=[group_of(user_id)], hold=True,
                       joined=joined) as conn:
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
    delivered = await services_of(request).broker.streams.notify(user_id, payload)
    if delivered:
        return {"status": "sent", "delivered": delivered}
    return {"status": "user not connected", "delivered": 0}


@router.get("/sse/notifications/{user_id}", response_class=EventStream)
async def sse_notifications(request: Request, user_id: str, limit: int | None = Limit(),
                            last_event_id: str | None = LastEventId()) -> EventStream:
    """What ``POST /notify/{user_id}`` sends, with ids; ``Last-Event-ID`` replays what was missed."""
    return EventStream(services_of(request).notifier.channel(user_id), last_event_id, limit, user=user_id)
