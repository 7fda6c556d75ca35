"""Scale-out benchmark: delivery across processes through Redis, against one process in memory.

* ``memory`` — one rtlab process with the memory broker; sender and receivers on it.
* ``redis``  — two rtlab processes sharing a ``redis-server`` (started here, on a free
  loopback port); the sender on one process, every receiver on the other, so each message
  crosses Redis pub/sub.

Two phases each: a **paced** phase (one message every few milliseconds) gives the delivery
latency a user feels (p50/p99, send to receipt); a **burst** phase gives the throughput
(deliveries per second until every receiver has every message).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

from ..tools.redis import RedisServer
from .clients import Counting, open_ws, stamp
from .common import abort_all, emit, percentiles, progress, raise_nofile, table
from .fanout import Server, open_receivers


def rtlab_server(broker: str) -> Server:
    return Server("rtlab", extra=["--broker", broker])


async def measure(mode: str, receivers: int, paced: int, burst: int, pace: float, timeout: float) -> dict:
    redis = RedisServer().start() if mode == "redis" else None
    servers = [rtlab_server(redis.url if redis else "memory")]
    if redis:
        servers.append(rtlab_server(redis.url))
    sender_port, receiver_port = servers[0].port, servers[-1].port
    transports = []
    try:
        path = "/ws/room/bench"
        sender = await open_ws(sender_port, f"{path}?username=ctl", Counting())
        transports.append(sender.transport)
        clients = await open_receivers(receiver_port, path, receivers, transports)
        # Wait until a message from the sender reaches every receiver: subscriptions are live.
        sender.send_text(json.dumps({"message": "SYNC"}))
        await asyncio.wait_for(asyncio.gather(*(c.synced for c in clients)), timeout)
        waits = [c.arm(paced) for c in clients]
        for _ in range(paced):
            sender.send_text(json.dumps({"message": stamp()}))
            await asyncio.sleep(pace)
        await asyncio.wait_for(asyncio.gather(*waits), timeout)
        p50, p99 = percentiles(clients)
        waits = [c.arm(burst) for c in clients]
        start = time.monotonic()
        for _ in range(burst):
            sender.send_text(json.dumps({"message": stamp()}))
        await asyncio.wait_for(asyncio.gather(*waits), timeout)
        seconds = time.monotonic() - start
        return {"mode": mode, "receivers": receivers, "p50_ms": p50, "p99_ms": p99,
                "per_second": receivers * burst / seconds}
    finally:
        await abort_all(transports)
        for s in servers:
            s.stop()
        if redis:
            redis.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtlab.bench scaleout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--receivers", default="10,100", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--paced", type=int, default=200, help="messages in the latency phase")
    p.add_argument("--burst", type=int, default=500, help="messages in the throughput phase")
    p.add_argument("--pace", type=float, default=0.005, help="seconds between paced messages")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args.receivers, args.paced, args.burst, args.pace, args.timeout))
    emit(rows, table(rows, COLUMNS), args.json)
    return 0


async def run(receivers: list[int], paced: int = 200, burst: int = 500, pace: float = 0.005,
              timeout: float = 30.0, show_progress: bool = True) -> list[dict]:
    """Memory and Redis side by side for each receiver count; Redis throughput as a ratio to memory."""
    raise_nofile(2 * max(receivers) + 500)
    cells = [(n, mode) for n in receivers for mode in ("memory", "redis")]
    rows = [await measure(mode, n, paced, burst, pace, timeout)
            for n, mode in progress(cells, desc="scaleout", enabled=show_progress)]
    base = {r["receivers"]: r["per_second"] for r in rows if r["mode"] == "memory"}
    for r in rows:
        r["vs_memory"] = r["per_second"] / base[r["receivers"]]
    return rows


COLUMNS = [("mode", "broker", ""), ("receivers", "receivers", ""), ("p50_ms", "p50 ms", ".2f"),
           ("p99_ms", "p99 ms", ".2f"), ("per_second", "deliveries/s", ",.0f"), ("vs_memory", "vs memory", ".2f")]
