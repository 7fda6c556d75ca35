"""SSE benchmark: events per second to 1,000 subscribers of ``/sse/announcements``.

Side by side in one run, the same messages to the same number of clients:

* ``raw ws``    — the raw ``websockets`` library with ``broadcast()``: the reference;
* ``rtlab ws``  — rtlab's ``/ws/broadcast`` (the hub);
* ``rtlab sse`` — rtlab's ``/sse/announcements``, fed by ``POST /announce``.

The WebSocket runs are those of ``python -m rtlab.bench fanout`` (one sender on a socket). The
SSE subscribers are minimal HTTP clients that count events and read a send timestamp out of
each; announcements are posted over 8 keep-alive HTTP connections at once. Reported:
deliveries per second, the server's CPU time per delivery, and the ratio of each to the raw
reference (for CPU, raw µs / server µs: above 1 is cheaper than raw).
"""
from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from .common import RTLAB, ServerProcess, emit, progress, raise_nofile, table
from .fanout import p50_p99, run_one

MARK = b'"B'
DIGITS = 19


class Subscriber(asyncio.Protocol):
    """A bare HTTP client of one event stream: waits for ``: subscribed``, then counts markers."""

    def __init__(self, expect: int) -> None:
        loop = asyncio.get_running_loop()
        self.subscribed = loop.create_future()
        self.done = loop.create_future()
        self.expect = expect
        self.got = 0
        self.latencies: list[int] = []
        self.tail = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buf = self.tail + data
        if not self.subscribed.done():
            if b": subscribed" not in buf:
                self.tail = buf[-16:]
                return
            self.subscribed.set_result(None)
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
                if self.got == self.expect and not self.done.done():
                    self.done.set_result(None)
        self.tail = buf[-1:]


async def subscribe(port: int, expect: int) -> Subscriber:
    sub = Subscriber(expect)
    transport, _ = await asyncio.get_running_loop().create_connection(lambda: sub, "127.0.0.1", port)
    transport.write(f"GET /sse/announcements HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Accept: text/event-stream\r\n\r\n".encode())
    await asyncio.wait_for(sub.subscribed, 30)
    return sub


async def run_sse(n: int, messages: int, timeout: float) -> dict:
    with ServerProcess(RTLAB) as server:
        subs = []
        try:
            for first in range(0, n, 100):
                subs += await asyncio.gather(*(subscribe(server.port, messages) for _ in range(first, min(n, first + 100))))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=timeout,
                                         limits=httpx.Limits(max_connections=8)) as client:
                await client.get("/health")
                cpu0 = server.cpu()
                start = time.monotonic_ns()
                await asyncio.gather(*(client.post("/announce", params={"message": f"B{time.monotonic_ns():019d}"})
                                       for _ in range(messages)))
                try:
                    await asyncio.wait_for(asyncio.gather(*(s.done for s in subs)), timeout)
                except TimeoutError:
                    got = sum(s.got for s in subs)
                    return {"server": "rtlab sse", "clients": n, "deliveries": got, "seconds": None,
                            "cpu_seconds": server.cpu() - cpu0, "note": f"{got} of {n * messages} in {timeout:g} s"}
                seconds = (time.monotonic_ns() - start) / 1e9
                cpu = server.cpu() - cpu0
        finally:
            for s in subs:
                s.transport.abort()
    p50, p99 = p50_p99(subs)
    return {"server": "rtlab sse", "clients": n, "deliveries": n * messages, "seconds": seconds,
            "cpu_seconds": cpu, "p50_ms": p50, "p99_ms": p99}


def _row(server: str, r) -> dict:
    return {"server": server, "clients": r.clients, "deliveries": r.deliveries, "seconds": r.seconds,
            "cpu_seconds": r.cpu_seconds, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "note": r.note}


async def run(clients: int = 1000, messages: int = 100, repeat: int = 3, timeout: float = 60.0,
              show_progress: bool = True) -> list[dict]:
    raise_nofile(2 * clients + 500)
    jobs = [("raw ws", lambda: run_one("raw", clients, 0, messages, timeout)),
            ("rtlab ws", lambda: run_one("rtlab", clients, 0, messages, timeout)),
            ("rtlab sse", lambda: run_sse(clients, messages, timeout))]
    rows = []
    for label, job in progress(jobs, desc="sse", enabled=show_progress):
        best = None
        for _ in range(repeat):
            r = await job()
            row = r if isinstance(r, dict) else _row(label, r)
            if not row["seconds"]:
                best = row
                break
            if best is None or row["seconds"] < best["seconds"]:
                best = row
        rows.append(best)
    for r in rows:
        r["deliveries_per_s"] = r["deliveries"] / r["seconds"] if r["seconds"] else None
        r["cpu_us_per_delivery"] = r["cpu_seconds"] / r["deliveries"] * 1e6 if r["seconds"] else None
    ref = rows[0]
    for r in rows:
        r["vs_raw"] = (r["deliveries_per_s"] / ref["deliveries_per_s"]
                       if r["deliveries_per_s"] and ref["deliveries_per_s"] else None)
        r["cpu_vs_raw"] = (ref["cpu_us_per_delivery"] / r["cpu_us_per_delivery"]
                           if r["cpu_us_per_delivery"] and ref["cpu_us_per_delivery"] else None)
    return rows


COLUMNS = [("server", "server", ""), ("clients", "clients", ","), ("deliveries_per_s", "deliveries/s", ",.0f"),
           ("vs_raw", "vs raw", ".2f"), ("cpu_us_per_delivery", "µs CPU/delivery", ".2f"),
           ("cpu_vs_raw", "CPU vs raw", ".2f"), ("p50_ms", "p50 ms", ".1f"), ("p99_ms", "p99 ms", ".1f")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtlab.bench sse", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--messages", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3, help="runs per server; the fastest is kept")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args.clients, args.messages, args.repeat, args.timeout))
    emit(rows, table(rows, COLUMNS), args.json)
    return 0
