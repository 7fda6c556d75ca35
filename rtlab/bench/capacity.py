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
``--servers`` and ``--deflate`` run a part of the table (``memory vs raw`` needs the raw row).

``--json`` rows: ``server``, ``deflate``, ``connections``, ``open_seconds``, ``opened_per_s``,
``kib_per_connection``, ``deflate_negotiated``, ``vs_raw`` (None without the raw row) and
``target_30_kib``.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time

from .clients import Idle, open_ws
from .common import RAW, RTLAB, ServerProcess, abort_all, emit, progress, raise_nofile, ratio, table

KiB = 1024
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"


async def open_idle(port: int, path: str, deflate: bool) -> Idle:
    """An idle connection (:class:`~rtlab.bench.clients.Idle`), offering deflate or not."""
    return await open_ws(port, path, Idle(), extensions=DEFLATE_OFFER if deflate else None)


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


async def measure(server: ServerProcess, path: str, n: int, deflate: bool, batch: int = 100) -> dict:
    """Open ``n`` idle connections to ``server`` (then close them): memory per connection, time to open."""
    # Warm up: the allocator's first arenas and every code path, then the baseline.
    warm = [await open_idle(server.port, path.format(i=f"w{i}"), deflate) for i in range(50)]
    await abort_all(c.transport for c in warm)
    base = server.rss()
    conns: list[Idle] = []
    start = time.perf_counter()
    try:
        for first in range(0, n, batch):
            conns += await asyncio.gather(*(open_idle(server.port, path.format(i=i), deflate)
                                            for i in range(first, min(n, first + batch))))
        seconds = time.perf_counter() - start
        grown = server.rss() - base
        negotiated = all(c.extensions for c in conns)
    finally:
        await abort_all(c.transport for c in conns)
    return {"connections": n, "open_seconds": seconds, "opened_per_s": n / seconds,
            "kib_per_connection": grown / n / KiB, "deflate_negotiated": negotiated}


async def run(connections: int = 5000, servers=None, deflate=("off", "on"), show_progress: bool = True) -> list[dict]:
    """Every scenario (or those of ``servers``: ``raw``, or implementations such as
    ``websockets-sansio``), with deflate ``off`` and/or ``on``."""
    raise_nofile(connections + 500)
    chosen = []
    for label, cmd, env, path in scenarios():
        server, flag = label.split("|")
        impl = "raw" if server == "raw websockets" else server.removeprefix("rtlab (").removesuffix(")")
        if flag in deflate and (servers is None or impl in servers):
            chosen.append((server, flag, cmd, env, path))
    rows = []
    # Started at once, measured in turns: an idle server's memory is its own, whatever runs beside it.
    processes = ServerProcess.start_all((cmd, env) for _, _, cmd, env, _ in chosen)
    try:
        for (server, flag, _, _, path), process in progress(list(zip(chosen, processes)), desc="capacity",
                                                             enabled=show_progress):
            result = await measure(process, path, connections, flag == "on")
            rows.append({"server": server, "deflate": flag, **result})
            process.interrupt()
    finally:
        ServerProcess.stop_all(processes)
    ref = {r["deflate"]: r["kib_per_connection"] for r in rows if r["server"] == "raw websockets"}
    for r in rows:
        r["vs_raw"] = ratio(r["kib_per_connection"], ref.get(r["deflate"]))
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
    p.add_argument("--servers", type=lambda s: s.split(","), default=None,
                   help="some of: raw, websockets-sansio, wsproto (default: all)")
    p.add_argument("--deflate", type=lambda s: s.split(","), default=["off", "on"], help="off, on, or off,on")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args.connections, args.servers, args.deflate))
    emit(rows, table(rows, COLUMNS), args.json)
    return 0
