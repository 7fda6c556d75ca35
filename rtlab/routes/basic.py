"""The first endpoints: health, echo, and a path parameter."""
from __future__ import annotations

from fastapi import APIRouter, WebSocket
from fastapi.responses import PlainTextResponse

from ..messages import Message, Ping
from ..wsio import Closed, Inbound, dumps, receive_frame, receive_model, send_text

router = APIRouter()


@router.get("/health")
async def health() -> dict:
    """Liveness: ``{"status": "ok"}``."""
    return {"status": "ok"}


@router.get("/echo")
async def http_echo(text: str = "") -> PlainTextResponse:
    """The HTTP twin of ``/ws/echo``, for comparing polling with a WebSocket."""
    return PlainTextResponse(f"Echo: {text}")


def _limit(ws: WebSocket) -> int:
    return ws.app.state.services.settings.max_message_bytes


async def _echo(ws: WebSocket, greeting: str | None = None) -> None:
    limit = _limit(ws)
    try:
        if greeting is not None:
            await send_text(ws, greeting)
        while True:
            frame = await receive_frame(ws, limit)
            if isinstance(frame, bytes):
                await send_text(ws, f"Received {len(frame)} bytes")
            else:
                await send_text(ws, f"Echo: {frame}")
    except Closed:
        pass


@router.websocket("/ws/echo")
async def echo(ws: WebSocket) -> None:
    """Text ``T`` answers ``Echo: T``; binary of N bytes answers ``Received N bytes``."""
    await ws.accept()
    await _echo(ws)


@router.websocket("/ws/client/{client_id}")
async def client(ws: WebSocket, client_id: int) -> None:
    """A path parameter, validated as an int: first a welcome, then echo."""
    await ws.accept()
    await _echo(ws, greeting=f"Welcome, client {client_id}")


_json_messages = Inbound(Ping, Message)


@router.websocket("/ws/json")
async def json_endpoint(ws: WebSocket) -> None:
    """JSON messages: ``ping`` answers ``pong``; ``message`` answers ``ack``. Bad input gets an error."""
    await ws.accept()
    limit = _limit(ws)
    try:
        while True:
            msg = await receive_model(ws, _json_messages, limit)
            if isinstance(msg, Ping):
                await send_text(ws, dumps({"type": "pong"}))
            else:
                await send_text(ws, dumps({"type": "ack", "message": msg.message}))
    except Closed:
        pass
