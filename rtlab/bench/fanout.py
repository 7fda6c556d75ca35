"""Fan-out benchmark: one sender, N receivers, three servers side by side.

* ``raw``   — the raw ``websockets`` library with ``websockets.broadcast()``: the reference.
* ``rtlab`` — rtlab's ``/ws/broadcast`` (the hub: outboxes, writer tasks, frames built once).
* ``naive`` — rtlab's ``/ws/naive/broadcast``: the tutorial loop that awaits each client in turn.

Each server runs in its own process; the clients run in this one, as light as possible (they
count frames and read a send timestamp out of each). Server efficiency is measured as server
CPU time per delivery (from the server process's CPU clock), so that the clients' own cost,
which shares this 2-core machine, does not blur the comparison. Wall-clock deliveries/s and
delivery latency (send to receipt, p50/p99) are reported too. Each cell is the fastest of
``--repeat`` runs.

The stalled scenario adds two clients that complete the handshake and never read. Before
the healthy clients join, the sender pushes a burst big enough (8 MB) to fill the stalled
clients' socket buffers, in both scenarios alike, so that only the stalled clients differ.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
from dataclasses import dataclass

from ..tools.clients import frame_header
from .common import RAW, RTLAB, ServerProcess, emit, progress, raise_nofile

SERVERS = {
    "raw": (RAW, "/ws/broadcast"),
    "rtlab": (RTLAB, "/ws/broadcast"),
    "naive": (RTLAB, "/ws/naive/broadcast"),
}
PREFILL_BYTES = 8 * 1024 * 1024
# Under the 16,000-character limit of a message's text: a longer one is refused with an error
# (by rtlab's hub and its naive endpoint alike) and would fill nobody's buffers.
PREFILL_CHUNK = 15_000
PREFILL_WINDOW = 32  # prefill messages in flight (480 kB, under the hub's 1 MiB outbox limit)
PREFILL_WAIT = 5.0  # seconds without progress before the prefill gives up


def masked_text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x81, 0x80 | n])
    elif n < 65536:
        head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def take_handshake(buf: bytearray, handshaken: asyncio.Future) -> bool:
    """Consume the server's handshake response from the start of ``buf``; True once it is done.

    A response other than ``101 Switching Protocols`` fails ``handshaken``.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    if not buf.startswith(b"HTTP/1.1 101"):
        handshaken.set_exception(ConnectionError(bytes(buf[:60])))
        return False
    del buf[:end + 4]
    handshaken.set_result(None)
    return True


class Client(asyncio.Protocol):
    """A minimal WebSocket client: handshake, then count frames and read timestamps."""

    def __init__(self, expect: int = 0) -> None:
        self.buf = bytearray()
        self.handshaken = asyncio.get_running_loop().create_future()
        self.synced = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()
        self.expect = expect
        self.got = 0
        self.latencies: list[int] = []
        self.transport = None
        self.big = 0  # prefill frames received
        self.big_target = 0
        self.big_waiter: asyncio.Future | None = None

    async def received_big(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` prefill frames came back; False if they did not within ``timeout``."""
        if self.big >= count:
            return True
        self.big_target, self.big_waiter = count, asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.big_waiter, timeout)
            return True
        except TimeoutError:
            return False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.handshaken.done() and not take_handshake(self.buf, self.handshaken):
            return
        now = time.monotonic_ns()
        buf = self.buf
        pos = 0
        while (frame := frame_header(buf, pos)) is not None:
            _, head, n = frame
            payload = buf[pos + head:pos + head + n]
            pos += head + n
            if n > PREFILL_CHUNK:  # one of the prefill burst, broadcast back to its sender too
                self.big += 1
                if self.big_waiter is not None and self.big >= self.big_target and not self.big_waiter.done():
                    self.big_waiter.set_result(None)
                continue
            i = payload.find(b'"B')
            if i >= 0:
                self.latencies.append(now - int(payload[i + 2:i + 21]))
                self.got += 1
                if self.got == self.expect and not self.done.done():
                    self.done.set_result(None)
            elif not self.synced.done() and b'"SYNC' in payload:
                self.synced.set_result(None)
        del buf[:pos]

    def send_text(self, text: str) -> None:
        self.transport.write(masked_text_frame(text.encode()))


async def open_client(port: int, path: str, protocol: Client, rcvbuf: int | None = None):
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(lambda: protocol, "127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    transport.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await asyncio.wait_for(protocol.handshaken, 10)
    return protocol


async def open_receivers(port: int, path: str, n: int, expect: int, transports: list) -> list[Client]:
    """n receivers on ``path`` (each expecting ``expect`` benchmark frames); transports recorded."""
    clients = []
    for i in range(n):
        c = await open_client(port, f"{path}?username=u{i}", Client(expect))
        clients.append(c)
        transports.append(c.transport)
    return clients


def p50_p99(clients: list[Client]) -> tuple[float, float]:
    """Delivery latency percentiles over every receiver, in ms."""
    lat = sorted(x for c in clients for x in c.latencies)
    return lat[len(lat) // 2] / 1e6, lat[int(len(lat) * 0.99)] / 1e6


class Stalled(asyncio.Protocol):
    """Completes the handshake, then never reads again."""

    def __init__(self) -> None:
        self.handshaken = asyncio.get_running_loop().create_future()
        self.head = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.head += data
        if b"\r\n\r\n" in self.head and not self.handshaken.done():
            self.transport.pause_reading()  # from now on the kernel buffers fill, then the server's
            self.handshaken.set_result(None)


@dataclass
class Result:
    server: str
    clients: int
    stalled: int
    deliveries: int
    seconds: float | None
    cpu_seconds: float
    p50_ms: float | None
    p99_ms: float | None
    note: str = ""

    @property
    def per_second(self) -> float | None:
        return self.deliveries / self.seconds if self.seconds else None

    @property
    def cpu_us_per_delivery(self) -> float | None:
        return self.cpu_seconds / self.deliveries * 1e6 if self.seconds else None


class Server(ServerProcess):
    """One of :data:`SERVERS` in its own process; ``path`` is its broadcast endpoint."""

    def __init__(self, kind: str, extra: list[str] | None = None) -> None:
        cmd, self.path = SERVERS[kind]
        super().__init__(cmd + (extra or []))


async def run_one(kind: str, n: int, stalled: int, messages: int, timeout: float) -> Result:
    server = Server(kind)
    transports = []
    try:
        port, path = server.port, server.path
        sender = await open_client(port, f"{path}?username=ctl", Client(messages))
        transports.append(sender.transport)
        for _ in range(stalled):
            s = Stalled()
            t, _ = await asyncio.get_running_loop().create_connection(lambda s=s: s, "127.0.0.1", port)
            t.write((f"GET {path}?username=stalled HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            await asyncio.wait_for(s.handshaken, 10)
            transports.append(t)
        # The burst that fills a stalled client's buffers (sent in both scenarios alike). The
        # sender gets its own broadcasts back, so it keeps at most PREFILL_WINDOW of them in
        # flight: it must not be the slow consumer itself. A server that stops delivering
        # (the naive loop, blocked on a stalled client) ends the burst early.
        chunk = json.dumps({"message": "x" * PREFILL_CHUNK})
        for i in range(PREFILL_BYTES // PREFILL_CHUNK):
            if i >= PREFILL_WINDOW and not await sender.received_big(i - PREFILL_WINDOW + 1, PREFILL_WAIT):
                break
            sender.send_text(chunk)
        clients = await open_receivers(port, path, n, messages, transports)
        sender.send_text(json.dumps({"message": "SYNC"}))
        try:
            await asyncio.wait_for(asyncio.gather(*(c.synced for c in clients)), timeout)
        except TimeoutError:
            return Result(kind, n, stalled, 0, None, 0.0, None, None, f"stalled: no delivery within {timeout:g} s")
        cpu0 = server.cpu()
        start = time.monotonic_ns()
        for _ in range(messages):
            sender.send_text(json.dumps({"message": f"B{time.monotonic_ns():019d}"}))
        try:
            await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), timeout)
        except TimeoutError:
            got = sum(c.got for c in clients)
            return Result(kind, n, stalled, got, None, server.cpu() - cpu0, None, None,
                          f"stalled: {got} of {n * messages} delivered in {timeout:g} s")
        seconds = (time.monotonic_ns() - start) / 1e9
        cpu = server.cpu() - cpu0
        p50, p99 = p50_p99(clients)
        return Result(kind, n, stalled, n * messages, seconds, cpu, p50, p99)
    finally:
        for t in transports:
            t.abort()
        server.stop()


def table(results: list[Result]) -> str:
    ref = {(r.clients, r.stalled): r for r in results if r.server == "raw"}
    lines = [f"{'server':6} {'clients':>7} {'stalled':>7} {'deliveries/s':>13} {'µs CPU/delivery':>15} "
             f"{'vs raw (CPU)':>12} {'p50 ms':>7} {'p99 ms':>7}  note"]
    for r in results:
        base = ref.get((r.clients, r.stalled))
        ratio = (base.cpu_us_per_delivery / r.cpu_us_per_delivery
                 if base and base.cpu_us_per_delivery and r.cpu_us_per_delivery else None)
        lines.append(
            f"{r.server:6} {r.clients:7} {r.stalled:7} "
            f"{(f'{r.per_second:,.0f}' if r.per_second else '-'):>13} "
            f"{(f'{r.cpu_us_per_delivery:.2f}' if r.cpu_us_per_delivery else '-'):>15} "
            f"{(f'{ratio:.2f}x' if ratio else '-'):>12} "
            f"{(f'{r.p50_ms:.1f}' if r.p50_ms is not None else '-'):>7} "
            f"{(f'{r.p99_ms:.1f}' if r.p99_ms is not None else '-'):>7}  {r.note}")
    return "\n".join(lines)


def stall_summary(results: list[Result]) -> str:
    out = []
    for kind in ("raw", "rtlab", "naive"):
        for n in sorted({r.clients for r in results}):
            base = next((r for r in results if r.server == kind and r.clients == n and r.stalled == 0), None)
            slow = next((r for r in results if r.server == kind and r.clients == n and r.stalled > 0), None)
            if base and slow:
                if base.seconds and slow.seconds:
                    out.append(f"{kind:6} {n:5} clients: with stalled clients {slow.seconds / base.seconds:.2f}x "
                               "the delivery time without")
                else:
                    out.append(f"{kind:6} {n:5} clients: {slow.note or base.note}")
    return "\n".join(out)


async def best_of(repeat: int, *args) -> Result:
    """The fastest of ``repeat`` runs: noise only ever adds time. A stalled run is not repeated."""
    best = None
    for _ in range(repeat):
        r = await run_one(*args)
        if not r.seconds:
            return r
        if best is None or r.seconds < best.seconds:
            best = r
    return best


async def run(clients: list[int], messages: int = 100, stalled: int = 2, servers: list[str] = ("raw", "rtlab", "naive"),
              timeout: float = 10.0, repeat: int = 3, show_progress: bool = True) -> list[Result]:
    """Every (clients, stalled, server) cell, side by side in one run."""
    raise_nofile(2 * max(clients) + 500)
    cells = [(n, s, kind) for n in clients for s in ((0, stalled) if stalled else (0,)) for kind in servers]
    results = []
    for n, s, kind in progress(cells, desc="fanout", enabled=show_progress):
        results.append(await best_of(repeat, kind, n, s, messages, timeout))
    return results


def as_rows(results: list[Result]) -> list[dict]:
    """The results as plain dicts (the JSON output), with the ratio to raw on CPU per delivery."""
    ref = {(r.clients, r.stalled): r for r in results if r.server == "raw"}
    rows = []
    for r in results:
        base = ref.get((r.clients, r.stalled))
        ratio = (base.cpu_us_per_delivery / r.cpu_us_per_delivery
                 if base and base.cpu_us_per_delivery and r.cpu_us_per_delivery else None)
        rows.append({"server": r.server, "clients": r.clients, "stalled": r.stalled, "deliveries": r.deliveries,
                     "seconds": r.seconds, "deliveries_per_s": r.per_second,
                     "cpu_us_per_delivery": r.cpu_us_per_delivery, "cpu_vs_raw": ratio,
                     "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "note": r.note})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtlab.bench fanout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default="100,200,500,1000", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--messages", type=int, default=100, help="messages broadcast per run")
    p.add_argument("--stalled", type=int, default=2, help="stalled clients in the second scenario (0: skip it)")
    p.add_argument("--servers", default="raw,rtlab,naive", type=lambda s: s.split(","))
    p.add_argument("--timeout", type=float, default=10.0, help="seconds before a run counts as stalled")
    p.add_argument("--repeat", type=int, default=3, help="runs per cell of the table; the fastest is kept")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    results = asyncio.run(run(args.clients, args.messages, args.stalled, args.servers, args.timeout, args.repeat))
    text = table(results) + (f"\n\n{stall_summary(results)}" if args.stalled else "")
    emit(as_rows(results), text, args.json)
    return 0
