"""Tokens, and four ways for a WebSocket client to present one.

Every way checks the token before the server sends anything. A refused client is told why
with close code 1008 and a reason; the first-message way can only refuse after accepting,
since the token arrives as a message.
"""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request, WebSocket

from ..auth import AuthError, bearer, issue_token, verify_token
from ..messages import Auth, TokenRequest, TokenResponse
from ..wsio import POLICY_VIOLATION, Closed, Inbound, close_quietly, dumps, receive_text, send_text
from .common import refuse

router = APIRouter()

SUBPROTOCOL = "rtlab.v1"
TOKEN_PREFIX = "bearer."
FIRST_MESSAGE_TIMEOUT = 5.0
_auth_message = Inbound(Auth)


@router.post("/token")
async def token(body: TokenRequest, request: Request) -> TokenResponse:
    """Issue an HS256 JWT for a username (``sub``), valid for one hour."""
    return TokenResponse(access_token=issue_token(request.app.state.services.settings, body.username))


def _offered_subprotocol(ws: WebSocket) -> str | None:
    return SUBPROTOCOL if SUBPROTOCOL in ws.scope.get("subprotocols", ()) else None


async def _session(ws: WebSocket, claims: dict) -> None:
    """After authentication: a welcome with the claims, then text ``T`` answers ``User {sub}: T``."""
    settings = ws.app.state.services.settings
    try:
        await send_text(ws, dumps({"type": "welcome", "user": claims}))
        while True:
            text = await receive_text(ws, settings.max_message_bytes)
            await send_text(ws, f"User {claims['sub']}: {text}")
    except Closed:
        pass


async def _authenticated(ws: WebSocket, token: str | None, subprotocol: str | None = None) -> None:
    try:
        claims = verify_token(ws.app.state.services.settings, token)
    except AuthError as exc:
        await refuse(ws, str(exc), subprotocol=_offered_subprotocol(ws))
        return
    await ws.accept(subprotocol=subprotocol)
    await _session(ws, claims)


@router.websocket("/ws/auth")
async def ws_auth(ws: WebSocket, token: str | None = Query(None, max_length=4096)) -> None:
    """Token in the query string: ``/ws/auth?token=JWT``."""
    await _authenticated(ws, token)


@router.websocket("/ws/auth/header")
async def ws_auth_header(ws: WebSocket) -> None:
    """Token in the ``Authorization: Bearer JWT`` header (not possible from a browser)."""
    await _authenticated(ws, bearer(ws.headers.get("authorization")))


@router.websocket("/ws/auth/subprotocol")
async def ws_auth_subprotocol(ws: WebSocket) -> None:
    """Token smuggled as a subprotocol: offer ``rtlab.v1`` and ``bearer.JWT``; ``rtlab.v1`` is chosen."""
    offered = ws.scope.get("subprotocols", [])
    token = next((p[len(TOKEN_PREFIX):] for p in offered if p.startswith(TOKEN_PREFIX)), None)
    if SUBPROTOCOL not in offered:
        await ws.close(POLICY_VIOLATION)  # before accept: HTTP 403, nothing we could negotiate
        return
    await _authenticated(ws, token, subprotocol=SUBPROTOCOL)


@router.websocket("/ws/auth/first-message")
async def ws_auth_first_message(ws: WebSocket) -> None:
    """Token in the first message, ``{"type": "auth", "token": JWT}``, within 5 seconds."""
    settings = ws.app.state.services.settings
    await ws.accept()
    try:
        async with asyncio.timeout(FIRST_MESSAGE_TIMEOUT):
            text = await receive_text(ws, settings.max_message_bytes)
        claims = verify_token(settings, _auth_message.parse(text).token)
    except TimeoutError:
        await close_quietly(ws, POLICY_VIOLATION, "no auth message within 5 s")
        return
    except (ValueError, AuthError) as exc:
        await close_quietly(ws, POLICY_VIOLATION, str(exc))
        return
    except Closed:
        return
    await _session(ws, claims)
