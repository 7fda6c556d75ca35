"""Clients for experiments that well-behaved libraries won't do for you.

The handshake and the frames are written by :mod:`rtlab.frames` (one copy for the
benchmarks, these clients and the tests); ``frame`` and ``frame_header`` are re-exported here.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from ..frames import frame, frame_header, handshake_request

__all__ = ["close_code_after", "frame", "frame_header", "stalled_client"]


async def _open(url: str, limit: int = 2 ** 16):
    """A raw connection to ``ws://...`` with the handshake written: (reader, writer)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=limit)
    writer.write(handshake_request(parts.hostname, parts.port, path))
    return reader, writer


@asynccontextmanager
async def stalled_client(url: str):
    """A WebSocket client that completes the handshake and then never reads.

    Its socket buffers fill up, then the server's: exactly what a frozen browser tab, a phone
    in a tunnel or a deadlocked consumer looks like from the server.
    """
    reader, writer = await _open(url, limit=1024)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise ConnectionError(head.split(b"\r\n")[0].decode())
    writer.transport.pause_reading()
    try:
        yield writer
    finally:
        writer.transport.abort()


async def close_code_after(url: str, data: bytes, timeout: float = 10.0) -> int | None:
    """Open a WebSocket by hand, send ``data`` (frames, good or bad), and return the close code
    the server answers with, or None if it dropped the connection without a close frame."""
    reader, writer = await _open(url)
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        writer.write(data)
        async with asyncio.timeout(timeout):
            while True:
                head = await reader.readexactly(2)
                n = head[1] & 0x7F
                if n == 126:
                    n = int.from_bytes(await reader.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await reader.readexactly(8), "big")
                payload = await reader.readexactly(n)
                if head[0] & 0x0F == 0x8:
                    writer.write(frame(0x8, payload[:2]))  # answer the close, as a client should
                    return int.from_bytes(payload[:2], "big") if n >= 2 else 1005
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    finally:
        writer.close()
