"""Receiving from a WebSocket safely: size limits, binary where JSON is expected, bad JSON.

Every endpoint reads through these helpers, so that every rule of the contract holds
everywhere: a message over the limit closes with 1009, binary on a JSON endpoint with
1003, and anything malformed gets ``{"type": "error", "detail": ...}`` with the connection
left open.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any, Generic, TypeVar, Union

from pydantic import Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

T = TypeVar("T")
log = logging.getLogger("rtlab.wsio")

# Close codes of RFC 6455 used by the lab.
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


class Closed(Exception):
    """The connection is over (the peer left, or we closed it for a fault)."""


def _utf8_len(text: str, limit: int) -> int:
    # A str of n characters takes n..4n bytes: encode only when it can matter.
    if len(text) > limit or len(text) * 4 > limit:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text)


async def close_quietly(ws: WebSocket, code: int, reason: str = "") -> None:
    """Close with a code and reason unless the connection is already gone."""
    if ws.application_state == WebSocketState.CONNECTED and ws.client_state == WebSocketState.CONNECTED:
        try:
            await ws.close(code, reason[:120])
        except (RuntimeError, OSError, WebSocketDisconnect):
            pass


class RateLimit:
    """A token bucket per connection: ``rate`` messages per second, bursts of up to ``burst``.

    A message past the limit is dropped with an error reply (a warning); another one while
    the bucket is still empty closes the connection with 1008. A client that slows down until
    its bucket is full again starts over with a clean record.
    """

    __slots__ = ("rate", "burst", "tokens", "stamp", "warned")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = self.burst, time.monotonic()
        self.warned = False

    def take(self) -> bool:
        """Spend one message; False when the bucket is empty."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= self.burst:
            self.warned = False
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


_RATE_KEY = "rtlab.rate_limit"


def rate_limit_of(ws: WebSocket) -> RateLimit | None:
    """The connection's bucket, made on first use from the app's settings (None: no limit)."""
    scope = ws.scope
    if _RATE_KEY not in scope:
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)  # None: not rtlab's app
        settings = getattr(services, "settings", None)
        rate = getattr(settings, "rate_limit", 0)
        scope[_RATE_KEY] = RateLimit(rate, settings.rate_limit_burst) if rate else None
    return scope[_RATE_KEY]


class Direct:
    """How a reader answers faults: straight on the socket. (The hub's connections answer
    through their outbox instead, so that replies and the close keep their order.)"""

    __slots__ = ("ws",)

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    async def error(self, detail: str) -> None:
        await send_error(self.ws, detail)

    async def close(self, code: int, reason: str) -> None:
        await close_quietly(self.ws, code, reason)


async def receive_frame(ws: WebSocket, limit: int, replies=None) -> str | bytes:
    """The next text (str) or binary (bytes) message, within ``limit`` bytes and the rate limit.

    Raises :class:`Closed` when the peer has gone, or after closing with 1009 when the
    message is too big, or with 1008 when the client keeps sending past the rate limit.
    The first message past the rate limit is dropped and answered with an error.
    ``replies`` (``error(detail)`` and ``close(code, reason)``) says how; by default
    straight on the socket.
    """
    replies = replies or Direct(ws)
    rate = rate_limit_of(ws)
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            raise Closed(message.get("code", 1005))
        text, data = message.get("text"), message.get("bytes")
        size = _utf8_len(text, limit) if text is not None else len(data or b"")
        if size > limit:
            await replies.close(MESSAGE_TOO_BIG, f"message of {size} bytes is over the limit of {limit}")
            raise Closed(MESSAGE_TOO_BIG)
        if rate is None or rate.take():
            return text if text is not None else (data or b"")
        if rate.warned:
            log.warning("closing a connection that kept sending past the rate limit (%g/s)", rate.rate)
            await replies.close(POLICY_VIOLATION, "rate limit exceeded")
            raise Closed(POLICY_VIOLATION)
        rate.warned = True
        detail = (f"rate limit: over {rate.rate:g} messages/s (bursts of {rate.burst:g}); this message was "
                  "dropped, and sending on at this pace closes the connection")
        await replies.error(detail)


async def receive_text(ws: WebSocket, limit: int, replies=None) -> str:
    """The next text message; binary closes with 1003."""
    replies = replies or Direct(ws)
    frame = await receive_frame(ws, limit, replies)
    if isinstance(frame, bytes):
        await replies.close(UNSUPPORTED_DATA, "binary messages are not accepted on this endpoint")
        raise Closed(UNSUPPORTED_DATA)
    return frame


class Inbound(Generic[T]):
    """The messages an endpoint accepts: one pydantic model, or several told apart by ``type``."""

    def __init__(self, *models: type) -> None:
        self.tagged = len(models) > 1
        if self.tagged:
            self.adapter = TypeAdapter(Annotated[Union[models], Field(discriminator="type")])
        else:
            self.adapter = TypeAdapter(models[0])

    def parse(self, text: str | bytes) -> T:
        """The validated message; raises ``ValueError`` with a one-line description."""
        try:
            return self.adapter.validate_json(text)
        except ValidationError as exc:
            raise ValueError(self.describe(exc)) from None

    def describe(self, error: ValidationError) -> str:
        parts = []
        for e in error.errors(include_url=False, include_input=False)[:3]:
            kind = e["type"]
            if kind == "json_invalid":
                error = e["ctx"]["error"]
                if "hex escape" in error:  # "\ud800" alone: a lone surrogate is not Unicode
                    error = "invalid \\u escape (a lone surrogate is not valid Unicode), " + error.split(" at ")[-1]
                parts.append("malformed JSON: " + error)
            elif kind == "union_tag_not_found":
                parts.append("missing 'type' field")
            elif kind == "union_tag_invalid":
                parts.append(f"unknown message type {e['ctx']['tag']!r}; expected one of {e['ctx']['expected_tags']}")
            else:
                loc = e["loc"][1:] if self.tagged else e["loc"]  # a union's first item is the tag
                msg = e["msg"].removeprefix("Value error, ")
                parts.append(f"{'.'.join(str(x) for x in loc)}: {msg}" if loc else msg)
        return "; ".join(parts)


async def send_text(ws: WebSocket, text: str) -> None:
    """Send on the socket; a peer that is gone (or closing) raises :class:`Closed`, not an error."""
    try:
        await ws.send_text(text)
    except (WebSocketDisconnect, OSError, RuntimeError) as exc:  # uvicorn's ClientDisconnected is an OSError
        raise Closed(getattr(exc, "code", 1006)) from None


async def send_error(ws: WebSocket, detail: str) -> None:
    await send_text(ws, dumps({"type": "error", "detail": detail}))


async def receive_model(ws: WebSocket, inbound: Inbound[T], limit: int) -> T:
    """The next valid message. Invalid ones get an error reply; the connection stays open."""
    while True:
        text = await receive_text(ws, limit)
        try:
            return inbound.parse(text)
        except ValueError as exc:
            await send_error(ws, str(exc))


def dumps(payload: Any) -> str:
    """Compact JSON, the one serialization every outgoing message goes through."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
