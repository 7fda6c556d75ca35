"""Clients for experiments that well-behaved libraries won't do for you."""
from __future__ import annotations

import asyncio
import base64
import os
from contextlib import asynccontextmanager
from urllib.parse import urlsplit


@asynccontextmanager
async def stalled_client(url: str):
    """A WebSocket client that completes the handshake and then never reads.

    Its socket buffers fill up, then the server's: exactly what a frozen browser tab, a phone
    in a tunnel or a deadlocked consumer looks like from the server.
    """
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise ConnectionError(head.split(b"\r\n")[0].decode())
    writer.transport.pause_reading()
    try:
        yield writer
    finally:
        writer.transport.abort()
