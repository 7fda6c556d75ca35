"""Capacity benchmark: memory per idle connection, and the time to open them.

Opens ``--connections`` WebSocket connections (5,000 by default) to a server in its own process,
leaves them idle, and reports the growth of the server's RSS per connection and how long the
handshakes took. Side by side in one run, with and without ``permessage-deflate``:

* ``raw websockets`` — the reference (``/ws/echo`` on the ``websockets`` library's server);
* ``rtlab`` — ``/ws/notifications/{user}``, a hub connection: a registered user, an outbox and
  a writer task; once per uvicorn WebSocket implementation (websockets-sansio, wsproto).

With deflate on, the client offers the extension and the server accepts it: each connection then
keeps a zlib compressor and decompressor (with their windows) for as long as it lives.
Target: at most 30 KiB per idle connection (the figure Centrifugo publishes for its Go server).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import os
import time

from .common import RAW, RTLAB, ServerProcess, emit, progress, raise_nofile, table

KiB = 1024
DEFLATE_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


class Idle(asyncio.Protocol):
    """Completes the handshake and then only keeps the socket open (it answers nothing)."""

    def __init__(self) -> None:
        self.handshaken = asyncio.get_running_loop().create_future()
        self.head = b""
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.handshaken.done():
            return  # pings every 20 s at most within a run: nothing to answer in time
        self.head += data
        if b"\r\n\r\n" in self.head:
            if self.head.startswith(b"HTTP/1.1 101"):
                self.handshaken.set_result(b"permessage-deflate" in self.head.lower())
            else:
                self.handshaken.set_exception(ConnectionError(self.head[:80]))


async def open_idle(port: int, path: str, deflate: bool) -> Idle:
    proto = Idle()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(lambda: proto, "127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    transport.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     f"{DEFLATE_OFFER if deflate else ''}\r\n").encode())
    await asyncio.wait_for(proto.handshaken, 30)
    return proto


def scenarios() -> list[tuple[str, list[str], dict, str]]:
    """(label, command, environment, path template) for every server, deflate off and on."""
    impls = ["websockets-sansio"] + (["wsproto"] if importlib.util.find_spec("wsproto") else [])
    rows = []
    for deflate in (False, True):
        flag = "on" if deflate else "off"
        rows.append((f"raw websockets|{flag}", RAW + (["--deflate"] if deflate else []), {}, "/ws/echo"))
        for impl in impls:
            env = {"RTLAB_WS_PROTOCOL": impl, "RTLAB_PER_MESSAGE_DEFLATE": str(deflate).lower(),
                   "RTLAB_MAX_CONNECTIONS_PER_USER": "1000"}
            rows.append((f"rtlab ({impl})|{flag}", RTLAB, env, "/ws/notifications/u{i}"))
    return rows


async def measure(cmd: list[str], env: dict, path: str, n: int, deflate: bool, batch: int = 100) -> dict:
    with ServerProcess(cmd, env) as server:
        # Warm up: the allocator's first arenas and every code path, then the baseline.
        warm = [await open_idle(server.port, path.format(i=f"w{i}"), deflate) for i in range(50)]
        for c in warm:
            c.transport.close()
        base = server.rss()
        conns: list[Idle] = []
        start = time.perf_counter()
        try:
            for first in range(0, n, batch):
                conns += await asyncio.gather(*(open_idle(server.port, path.format(i=i), deflate)
                                                for i in range(first, min(n, first + batch))))
            seconds = time.perf_counter() - start
            grown = server.rss() - base
            negotiated = all(c.handshaken.result() for c in conns)
        finally:
            for c in conns:
                c.transport.abort()
    return {"connections": n, "open_seconds": seconds, "opened_per_s": n / seconds,
            "kib_per_connection": grown / n / KiB, "deflate_negotiated": negotiated}


async def run(connections: int = 5000, show_progress: bool = True) -> list[dict]:
    raise_nofile(connections + 500)
    rows = []
    for label, cmd, env, path in progress(scenarios(), desc="capacity", enabled=show_progress):
        server, deflate = label.split("|")
        result = await measure(cmd, env, path, connections, deflate == "on")
        rows.append({"server": server, "deflate": deflate, **result})
    ref = {r["deflate"]: r["kib_per_connection"] for r in rows if r["server"] == "raw websockets"}
    for r in rows:
        r["vs_raw"] = r["kib_per_connection"] / ref[r["deflate"]]
        r["target_30_kib"] = "met" if r["kib_per_connection"] <= 30 else "missed"
    return rows


COLUMNS = [("server", "server", ""), ("deflate", "deflate", ""), ("connections", "connections", ","),
           ("kib_per_connection", "KiB/connection", ".1f"), ("vs_raw", "memory vs raw", ".2f"),
           ("open_seconds", "seconds to open", ".2f"), ("opened_per_s", "opened/s", ",.0f"),
           ("target_30_kib", "≤ 30 KiB", "")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtlab.bench capacity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=5000)
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args.connections))
    emit(rows, table(rows, COLUMNS), args.json)
    return 0
