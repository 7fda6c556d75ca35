"""The WebSocket wire by hand (RFC 6455): the opening handshake's bytes and frames built and parsed
without a library. The one copy of it, for the benchmarks' clients (:mod:`rtlab.bench.clients`), the
notebooks' misbehaving clients (:mod:`rtlab.tools.clients`) and the tests. Standard library only.

* :func:`handshake_request` — the bytes of a client's opening handshake (section 4.1);
* :func:`frame` — a client frame with any opcode: masked and FIN set, or breaking any rule on purpose;
* :func:`frame_header` — the header of an unmasked server frame in a buffer;
* :func:`take_handshake` — consume the server's ``101`` response at the start of a buffer.
"""
from __future__ import annotations

import asyncio
import base64
import os

__all__ = ["frame", "frame_header", "handshake_request", "take_handshake"]


def handshake_request(host: str, port: int, path: str, key: str | None = None, *,
                      extensions: str | None = None, headers: str = "") -> bytes:
    """The opening handshake of a WebSocket client for ``ws://host:port/path``: the one copy of it,
    for the benchmarks, the notebooks' misbehaving clients and the tests.

    ``key`` is the ``Sec-WebSocket-Key`` (16 random bytes, base64, by default); ``extensions``
    the value of a ``Sec-WebSocket-Extensions`` offer, e.g. ``"permessage-deflate"``; ``headers``
    more header lines, each ending in CRLF.
    """
    key = key or base64.b64encode(os.urandom(16)).decode()
    offer = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}{headers}\r\n").encode()


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = True,
          declared: int | None = None) -> bytes:
    """A client frame built by hand: by default a complete, masked one (``opcode`` 0x1 text, 0x2
    binary, 0x8 close...); or one that breaks any rule RFC 6455 sets: ``rsv`` sets reserved bits,
    ``mask=False`` leaves it unmasked (clients must mask), ``declared`` states a payload length
    other than the real one."""
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


def take_handshake(buf: bytearray, handshaken: asyncio.Future) -> bool:
    """Consume the server's handshake response from the start of ``buf``; True once it is done.

    A response other than ``101 Switching Protocols`` fails ``handshaken``. Its result is the
    response's head (status line and headers), lower-cased.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    if not buf.startswith(b"HTTP/1.1 101"):
        if not handshaken.done():
            handshaken.set_exception(ConnectionError(bytes(buf[:80])))
        return False
    head = bytes(buf[:end]).lower()
    del buf[:end + 4]
    handshaken.set_result(head)
    return True
