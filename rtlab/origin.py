"""Refuse cross-site WebSocket handshakes (CSWSH).

Browsers attach cookies to a WebSocket handshake to any site, and the same-origin policy
does not apply to WebSockets: the server must check ``Origin`` itself. A browser ``Origin``
other than the server's own, and not listed in ``RTLAB_ALLOWED_ORIGINS``, is refused with
HTTP 403 before the app sees the connection. Clients that send no ``Origin`` (scripts,
command-line tools) are let through: they are not browsers acting for a user.
"""
from __future__ import annotations

from collections.abc import Iterable


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    if origin is None:
        return True
    origin = origin.rstrip("/")
    allowed = tuple(allowed)
    if "*" in allowed or origin in allowed:
        return True
    return host is not None and origin in (f"http://{host}", f"https://{host}")


class OriginGuard:
    """ASGI middleware: WebSocket handshakes from a foreign ``Origin`` get 403."""

    def __init__(self, app, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = tuple(allowed)

    def __call__(self, scope, receive, send):
        # A plain function returning the next app's coroutine: no frame of ours stays suspended
        # for the life of each connection (every middleware frame costs each idle connection).
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or ())
            origin = headers.get(b"origin")
            host = headers.get(b"host")
            if not origin_allowed(origin and origin.decode("latin-1"), host and host.decode("latin-1"), self.allowed):
                return self._refuse(scope, send)
        return self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope, send) -> None:
        body = b"cross-origin WebSocket refused: origin not allowed\n"
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})
