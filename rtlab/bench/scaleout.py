"""Scale-out benchmark: delivery across processes through Redis, against one process in memory.

* ``memory`` — one rtlab process with the memory broker; sender and receivers on it.
* ``redis``  — two rtlab processes sharing a ``redis-server`` (started here, on a free
  loopback port); the sender on one process, every receiver on the other, so each message
  crosses Redis pub/sub.

Two phases each, on ``/ws/room/bench``:

* **bursts**: a round is ``--burst`` messages sent back to back, until every receiver has every
  one. After one warm-up round, each of the ``--repeat`` repeats runs rounds until the servers
  have used their share of ``--min-cpu`` (see :mod:`rtlab.bench.common`). Throughput is the
  best repeat's deliveries/s; **server CPU per delivery** is the CPU of every rtlab process of the
  cell (one, or both nodes) over the deliveries, with its spread over the repeats, ``*`` marking a
  figure from too little CPU. ``redis-server``'s own CPU per delivery is given apart (``redis_us``).
* **paced**: ``--paced`` messages, one every ``--pace`` seconds, give the delivery latency a user
  feels (p50/p99, send to receipt).

``--json`` rows: ``mode``, ``receivers``, ``deliveries``, ``rounds``, ``seconds``, ``deliveries_per_s``,
``vs_memory`` (deliveries/s over memory's, same receivers), the CPU fields of
:mod:`rtlab.bench.common` (``cpu_us_per_delivery``, ``cpu_us_min``, ``cpu_us_max``, ``cpu_seconds``,
``cpu_units``, ``cpu_reliable``), ``cpu_vs_memory`` (memory's CPU per delivery over this one's:
below 1 costs more), ``redis_us`` (redis-server CPU µs per delivery, None in memory), ``p50_ms``,
``p99_ms``, ``bytes_per_delivery``, ``complete``, ``note``.
"""
from __future__ import annotations

import argparse
import asyncio
import json

import psutil

from ..tools.redis import RedisServer
from .clients import Counting, open_ws, stamp
from .common import (
    MAX_ROUNDS,
    MIN_CPU,
    RTLAB,
    TIME_LIMIT,
    ServerProcess,
    abort_all,
    add_cpu_arguments,
    cpu_figure,
    cpu_footnote,
    emit,
    fmt_cpu,
    progress,
    raise_nofile,
    ratio,
    run_repeats,
    summarize,
    table,
)
from .fanout import broadcast_round, open_receivers

PATH = "/ws/room/bench"


async def measure(mode: str, receivers: int, paced: int = 200, burst: int = 500, pace: float = 0.005,
                  timeout: float = 30.0, repeat: int = 3, min_cpu: float = MIN_CPU, max_rounds: int = MAX_ROUNDS,
                  time_limit: float = TIME_LIMIT) -> dict:
    """One cell: ``mode``'s servers in their own processes, ``receivers`` receivers on the last one."""
    row = {"mode": mode, "receivers": receivers, "deliveries": 0, "rounds": 0, "seconds": 0.0,
           "deliveries_per_s": None, **cpu_figure([], min_cpu).fields(), "redis_us": None, "p50_ms": None,
           "p99_ms": None, "bytes_per_delivery": None, "complete": False, "note": ""}
    redis = RedisServer().start() if mode == "redis" else None
    broker = redis.url if redis else "memory"
    servers = ServerProcess.start_all([(RTLAB + ["--broker", broker], None)] * (2 if redis else 1))
    redis_ps = psutil.Process(redis.proc.pid) if redis else None
    transports = []
    try:
        sender = await open_ws(servers[0].port, f"{PATH}?username=ctl", Counting())
        transports.append(sender.transport)
        clients = await open_receivers(servers[-1].port, PATH, receivers, transports)
        # Wait until a message from the sender reaches every receiver: subscriptions are live.
        sender.send_text(json.dumps({"message": "SYNC"}))
        try:
            await asyncio.wait_for(asyncio.gather(*(c.synced for c in clients)), timeout)
        except TimeoutError:
            row["note"] = f"stalled: no delivery within {timeout:g} s"
            return row
        redis_cpu0 = _cpu(redis_ps)
        repeats, note = await run_repeats(lambda: sum(s.cpu() for s in servers),
                                          broadcast_round(sender, clients, burst, timeout), clients, repeat, min_cpu,
                                          max_rounds, time_limit)
        redis_cpu = _cpu(redis_ps) - redis_cpu0
        if not repeats:
            row["note"] = note
            return row
        # The paced phase: its latencies are the row's.
        for c in clients:
            c.latencies.clear()
        waits = [c.arm(paced) for c in clients]
        for _ in range(paced):
            sender.send_text(json.dumps({"message": stamp()}))
            await asyncio.sleep(pace)
        await asyncio.wait_for(asyncio.gather(*waits), timeout)
    finally:
        await abort_all(transports)
        ServerProcess.stop_all(servers)
        if redis:
            redis.stop()
    summarize(row, repeats, clients, note, min_cpu)
    # (the warm-up round's deliveries are in redis-server's CPU interval too)
    if redis_ps is not None and row["deliveries"]:
        row["redis_us"] = redis_cpu / (row["deliveries"] + receivers * burst) * 1e6
    return row


def _cpu(ps: psutil.Process | None) -> float:
    if ps is None:
        return 0.0
    t = ps.cpu_times()
    return t.user + t.system


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtlab.bench scaleout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--receivers", default="10,100", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--paced", type=int, default=200, help="messages in the latency phase")
    p.add_argument("--burst", type=int, default=500, help="messages in a round of the throughput phase")
    p.add_argument("--pace", type=float, default=0.005, help="seconds between paced messages")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--repeat", type=int, default=3, help="repeats per cell (default %(default)s)")
    add_cpu_arguments(p)
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args.receivers, args.paced, args.burst, args.pace, args.timeout, args.repeat,
                           args.min_cpu, args.max_rounds, args.time_limit))
    text = table(rows, COLUMNS)
    note = cpu_footnote(rows, args.min_cpu)
    emit(rows, text + ("\n" + note if note else ""), args.json)
    return 0


async def run(receivers: list[int], paced: int = 200, burst: int = 500, pace: float = 0.005,
              timeout: float = 30.0, repeat: int = 3, min_cpu: float = MIN_CPU, max_rounds: int = MAX_ROUNDS,
              time_limit: float = TIME_LIMIT, show_progress: bool = True) -> list[dict]:
    """Memory and Redis side by side for each receiver count; Redis as ratios to memory."""
    raise_nofile(2 * max(receivers) + 500)
    cells = [(n, mode) for n in receivers for mode in ("memory", "redis")]
    rows = [await measure(mode, n, paced, burst, pace, timeout, repeat, min_cpu, max_rounds, time_limit)
            for n, mode in progress(cells, desc="scaleout", enabled=show_progress)]
    base = {r["receivers"]: r for r in rows if r["mode"] == "memory"}
    for r in rows:
        ref = base[r["receivers"]]
        r["vs_memory"] = ratio(r["deliveries_per_s"], ref["deliveries_per_s"])
        r["cpu_vs_memory"] = ratio(ref["cpu_us_per_delivery"], r["cpu_us_per_delivery"])
    return rows


COLUMNS = [("mode", "broker", ""), ("receivers", "receivers", ""), ("deliveries_per_s", "deliveries/s", ",.0f"),
           ("vs_memory", "vs memory", ".2f"), ("cpu_us_per_delivery", "µs CPU/delivery (min–max)", fmt_cpu()),
           ("cpu_seconds", "CPU s", ".2f"), ("redis_us", "redis µs", ".2f"), ("p50_ms", "p50 ms", ".2f"),
           ("p99_ms", "p99 ms", ".2f"), ("note", "note", "")]
