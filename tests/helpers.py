"""Small helpers the tests share."""
from __future__ import annotations

import json
import socket

from websockets.exceptions import ConnectionClosed

from rtlab.frames import handshake_request


def closed_with(ws, timeout: float = 5.0) -> tuple[int, str]:
    """Wait for the server to close a sync client; fail if any message arrives first."""
    try:
        message = ws.recv(timeout=timeout)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "the socket was dropped without a close frame"
        return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError(f"expected a close, got a message first: {message!r}")


def ask(ws, payload, timeout: float = 5.0):
    """Send text (or JSON for a dict) and return the decoded JSON reply."""
    ws.send(payload if isinstance(payload, (str, bytes)) else json.dumps(payload))
    return json.loads(ws.recv(timeout=timeout))


def raw_handshake(port: int, path: str, extra_headers: str = "") -> socket.socket:
    """A bare TCP WebSocket client after a successful handshake: it reads only what we tell it to."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(handshake_request("127.0.0.1", port, path, headers=extra_headers))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "closed during handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def wait_until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for a condition the server reaches asynchronously (bounded; fails loudly)."""
    import time
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def recv_json(ws, timeout: float = 5.0):
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws, predicate, timeout: float = 5.0, limit: int = 1000):
    """Skip messages until one matches; return it."""
    for _ in range(limit):
        msg = recv_json(ws, timeout)
        if predicate(msg):
            return msg
    raise AssertionError("no matching message")
