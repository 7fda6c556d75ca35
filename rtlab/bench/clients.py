"""The benchmarks' clients: minimal, hand-written, and cheap, so that the server's cost is measured.

Every benchmark under :mod:`rtlab.bench` opens its connections with these, and nothing else:

* the handshake and frames by hand, from :mod:`rtlab.frames` (``handshake_request``, ``frame``,
  ``frame_header``, ``take_handshake``, re-exported here);
* :class:`Idle` — completes the handshake, then only keeps its socket open;
* :class:`Stalled` — completes the handshake, then never reads again;
* :class:`Counting` — counts benchmark frames (``"B<19-digit send time>``) and their latency;
* :func:`open_ws` — connect one of those and wait for its handshake;
* :class:`SseSubscriber` — a bare HTTP client of one event stream, counting the same markers;
* :class:`Poster` — ``POST`` requests one after another on one keep-alive HTTP connection.

A benchmark message carries ``B`` and a 19-digit ``time.monotonic_ns()`` of its sending: each
client reads it out of what it receives, counts it, and records the delivery latency.
"""
from __future__ import annotations

import asyncio
import time

from ..frames import frame, frame_header, handshake_request, take_handshake

MARK = b'"B'  # a benchmark message's text starts with B: in JSON, '"B' then the send time
DIGITS = 19


def stamp() -> str:
    """A benchmark message: ``B`` and the send time (``time.monotonic_ns()``, 19 digits)."""
    return f"B{time.monotonic_ns():019d}"


class Idle(asyncio.Protocol):
    """Completes the handshake and then only keeps its socket open (it reads and drops what comes)."""

    def __init__(self) -> None:
        self.handshaken = asyncio.get_running_loop().create_future()
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.handshaken.done():
            return  # pings every 20 s at most within a run: nothing to answer in time
        self.buf += data
        if take_handshake(self.buf, self.handshaken):
            self.buf.clear()
            self.handshook()

    def handshook(self) -> None:
        """Called once the handshake completed."""

    def connection_lost(self, exc) -> None:
        if not self.handshaken.done():
            self.handshaken.set_exception(ConnectionError("closed during the handshake"))

    @property
    def extensions(self) -> bool:
        """True when the server accepted ``permessage-deflate``."""
        return b"permessage-deflate" in self.handshaken.result()


class Stalled(Idle):
    """Completes the handshake, then never reads again: from then on the kernel's buffers fill,
    then the server's. What a frozen tab or a deadlocked consumer looks like from the server."""

    def handshook(self) -> None:
        self.transport.pause_reading()


class Receiver(asyncio.Protocol):
    """What every benchmark receiver counts: messages (``got``), bytes, latencies, and a round's end."""

    def __init__(self, expect: int = 0) -> None:
        self.done = asyncio.get_running_loop().create_future()
        self.expect = expect
        self.got = 0
        self.bytes = 0
        self.latencies: list[int] = []
        self.transport: asyncio.Transport | None = None

    def arm(self, count: int) -> asyncio.Future:
        """Expect ``count`` more benchmark messages; :attr:`done` resolves when they all came."""
        self.expect = self.got + count
        self.done = asyncio.get_running_loop().create_future()
        if count <= 0:
            self.done.set_result(None)
        return self.done

    def connection_made(self, transport) -> None:
        self.transport = transport


class Counting(Receiver):
    """A WebSocket client that counts benchmark frames and their latency, and nothing more.

    A round: :meth:`arm` with the number of frames to expect, send, then await :attr:`done`.
    Frames larger than ``big_over`` bytes are counted apart (``big``): a benchmark's filler.
    A frame whose text holds ``"SYNC`` sets :attr:`synced`.
    """

    def __init__(self, expect: int = 0, big_over: int = 1 << 62) -> None:
        super().__init__(expect)
        loop = asyncio.get_running_loop()
        self.handshaken = loop.create_future()
        self.synced = loop.create_future()
        self.buf = bytearray()
        self.big_over = big_over
        self.big = 0
        self.big_target = 0
        self.big_waiter: asyncio.Future | None = None
        self.replies = 0  # every text frame (for request/response use)
        self.reply: asyncio.Future | None = None

    async def received_big(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` big frames came; False if they did not within ``timeout``."""
        if self.big >= count:
            return True
        self.big_target, self.big_waiter = count, asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.big_waiter, timeout)
            return True
        except TimeoutError:
            return False

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.handshaken.done() and not take_handshake(self.buf, self.handshaken):
            return
        now = time.monotonic_ns()
        buf = self.buf
        pos = 0
        while (frame := frame_header(buf, pos)) is not None:
            opcode, head, n = frame
            start = pos + head
            pos = start + n
            if n > self.big_over:
                self.big += 1
                if self.big_waiter is not None and self.big >= self.big_target and not self.big_waiter.done():
                    self.big_waiter.set_result(None)
                continue
            if opcode == 0x1 and self.reply is not None and not self.reply.done():
                self.reply.set_result(None)
            i = buf.find(MARK, start, pos)
            if i >= 0:
                self.latencies.append(now - int(buf[i + 2:i + 2 + DIGITS]))
                self.got += 1
                self.bytes += head + n
                if self.got >= self.expect and not self.done.done():
                    self.done.set_result(None)
            elif not self.synced.done() and buf.find(b'"SYNC', start, pos) >= 0:
                self.synced.set_result(None)
        del buf[:pos]

    def send_text(self, text: str) -> None:
        self.transport.write(frame(0x1, text.encode()))


async def open_ws(port: int, path: str, protocol: asyncio.Protocol, timeout: float = 30.0,
                  extensions: str | None = None, host: str = "127.0.0.1"):
    """Connect ``protocol`` (one of the clients above) to ``ws://host:port/path``; wait for the handshake."""
    transport, _ = await asyncio.get_running_loop().create_connection(lambda: protocol, host, port)
    transport.write(handshake_request(host, port, path, extensions=extensions))
    try:
        await asyncio.wait_for(protocol.handshaken, timeout)
    except BaseException:
        transport.abort()
        raise
    return protocol


class SseSubscriber(Receiver):
    """A bare HTTP client of one event stream: waits for a ``: subscribed`` comment, then counts
    benchmark markers (``"B`` and 19 digits) and their latency; :attr:`ended` once the server
    ends the response (the last chunk of a chunked body) or the connection."""

    def __init__(self) -> None:
        super().__init__()
        loop = asyncio.get_running_loop()
        self.subscribed = loop.create_future()
        self.ended = loop.create_future()
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buf = self.tail + data
        if not self.subscribed.done():
            if b": subscribed" not in buf:
                self.tail = buf[-16:]
                return
            self.subscribed.set_result(None)
        else:
            self.bytes += len(data)
        pos = 0
        while (i := buf.find(MARK, pos)) >= 0:
            if len(buf) < i + 2 + DIGITS:
                self.tail = buf[i:]
                return
            stamp = buf[i + 2:i + 2 + DIGITS]
            pos = i + 2 + DIGITS
            if stamp.isdigit():
                self.latencies.append(now - int(stamp))
                self.got += 1
                if self.got >= self.expect and not self.done.done():
                    self.done.set_result(None)
        if buf.endswith(b"\r\n0\r\n\r\n") and not self.ended.done():  # the last chunk: the stream ended
            self.ended.set_result(None)
        self.tail = buf[-8:]

    def connection_lost(self, exc) -> None:
        if not self.ended.done():
            self.ended.set_result(None)
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError("closed before the stream started"))


async def subscribe(port: int, path: str, timeout: float = 30.0, host: str = "127.0.0.1") -> SseSubscriber:
    """An :class:`SseSubscriber` of ``http://host:port/path``, once the server says it is subscribed."""
    sub = SseSubscriber()
    transport, _ = await asyncio.get_running_loop().create_connection(lambda: sub, host, port)
    transport.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    try:
        await asyncio.wait_for(sub.subscribed, timeout)
    except BaseException:
        transport.abort()
        raise
    return sub


class Poster(asyncio.Protocol):
    """``POST`` requests on one keep-alive HTTP/1.1 connection, one at a time: each waits for the
    previous response (status line, headers and a ``Content-Length`` body)."""

    def __init__(self, host: str = "") -> None:
        self.host = host  # the Host header
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> "Poster":
        poster = cls(f"{host}:{port}")
        await asyncio.get_running_loop().create_connection(lambda: poster, host, port)
        return poster

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(self.buf[:end]).lower().split(b"\r\n")
        length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
        if len(self.buf) < end + 4 + length:
            return
        status = int(lines[0][9:12])
        del self.buf[:end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    def connection_lost(self, exc) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    async def post(self, target: str, timeout: float = 30.0) -> int:
        """``POST target`` with an empty body; the response's status."""
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(f"POST {target} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: 0\r\n\r\n".encode())
        return await asyncio.wait_for(self.waiter, timeout)

    def close(self) -> None:
        self.transport.abort()
