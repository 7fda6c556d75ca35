"""Helpers shared by the hub's endpoints."""
from __future__ import annotations

from fastapi import WebSocket

from ..wsio import POLICY_VIOLATION, close_quietly

MAX_NAME = 64


def services_of(where):
    """The app's :class:`~rtlab.services.Services`, from a request, a WebSocket or a hub connection."""
    return getattr(where, "ws", where).app.state.services


async def refuse(ws: WebSocket, reason: str, subprotocol: str | None = None) -> None:
    """Accept only to say why, then close with 1008 and the reason: a browser sees both.

    (Closing before accepting answers HTTP 403 instead, which a browser's WebSocket reports
    as a bare 1006 with no reason at all.)
    """
    await ws.accept(subprotocol=subprotocol)
    await close_quietly(ws, POLICY_VIOLATION, reason)


def bad_name(name: str | None, what: str = "username") -> str | None:
    """Why ``name`` can't be used as a user or room name, or None when it can."""
    if not name:
        return f"{what} required"
    if len(name) > MAX_NAME:
        return f"{what} longer than {MAX_NAME} characters"
    if any(ord(c) < 32 for c in name):
        return f"{what} contains control characters"
    return None
