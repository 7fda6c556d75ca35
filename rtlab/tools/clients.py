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


def frame_header(buf, pos: int = 0) -> tuple[int, int, int] | None:
    """``(opcode, header length, payload length)`` of the unmasked (server) frame at ``buf[pos]``,
    or None while the buffer does not yet hold the whole frame."""
    have = len(buf) - pos
    if have < 2:
        return None
    n, head = buf[pos + 1] & 0x7F, 2
    if n == 126:
        if have < 4:
            return None
        n, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
    elif n == 127:
        if have < 10:
            return None
        n, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
    if have < head + n:
        return None
    return buf[pos] & 0x0F, head, n


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = True,
          declared: int | None = None) -> bytes:
    """A client frame built by hand, so that it can break every rule RFC 6455 sets.

    ``rsv`` sets reserved bits, ``mask=False`` leaves it unmasked (clients must mask), and
    ``declared`` states a payload length other than the real one.
    """
    n = len(payload) if declared is None else declared
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    flag = 0x80 if mask else 0
    if n < 126:
        head += bytes([flag | n])
    elif n < 65536:
        head += bytes([flag | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([flag | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def close_code_after(url: str, data: bytes, timeout: float = 10.0) -> int | None:
    """Open a WebSocket by hand, send ``data`` (frames, good or bad), and return the close code
    the server answers with, or None if it dropped the connection without a close frame."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
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
