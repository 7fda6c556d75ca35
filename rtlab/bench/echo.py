"""Echo benchmark: round trips per second over one connection, against the raw ``websockets`` server.

One client sends a text message and waits for its echo, again and again, on each server in turn:

* ``raw websockets`` — the reference: the ``websockets`` library's own asyncio server.
* ``rtlab (<impl>)`` — rtlab's ``/ws/echo`` under uvicorn, once per WebSocket implementation
  uvicorn can use here: ``websockets-sansio`` (rtlab's default), ``wsproto`` (when installed)
  and the deprecated legacy ``websockets``.

The client is a minimal hand-written protocol (:mod:`rtlab.bench.clients`), so that its own
cost stays small next to the server's. The servers run at the same time and are measured in
turns (one repeat of each, then the next), so that whatever else the machine does falls on all
of them alike. A *round* is ``--messages`` round trips; each repeat runs rounds until the server
has used its share of ``--min-cpu`` (see :mod:`rtlab.bench.common`).

Reported: round trips per second (the best repeat), the server's CPU time per round trip with
its spread over the repeats (``*``: from too little CPU), and the ratio to the raw reference
(target: at least 0.6).

``--json`` rows: ``server``, ``round_trips`` (measured), ``rounds``, ``round_trips_per_s``,
``vs_raw`` (round trips/s over raw's), ``cpu_us_per_round_trip``, ``cpu_us_min``, ``cpu_us_max``,
``cpu_seconds``, ``cpu_units``, ``cpu_reliable``, ``cpu_vs_raw``, ``cpu_vs_raw_reliable``.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util

from .clients import Counting, frame, open_ws
from .common import (
    MAX_ROUNDS,
    MIN_CPU,
    RAW,
    RTLAB,
    TIME_LIMIT,
    ServerProcess,
    abort_all,
    add_cpu_arguments,
    add_cpu_vs,
    cpu_figure,
    cpu_footnote,
    emit,
    fmt_cpu,
    fmt_ratio,
    progress,
    ratio,
    run_rounds,
    table,
)

UNIT = "round_trip"


def implementations() -> list[str]:
    impls = ["websockets-sansio"]
    if importlib.util.find_spec("wsproto") is not None:
        impls.append("wsproto")
    impls.append("websockets")
    return impls


def targets() -> list[tuple[str, list[str], dict]]:
    rows = [("raw websockets", RAW, {})]
    for impl in implementations():
        label = f"rtlab ({impl}{', legacy' if impl == 'websockets' else ''})"
        rows.append((label, RTLAB, {"RTLAB_WS_PROTOCOL": impl, "PYTHONWARNINGS": "ignore::DeprecationWarning"}))
    return rows


def echo_round(client: Counting, messages: int, data: bytes):
    """One round: ``messages`` round trips, one at a time."""
    loop = asyncio.get_running_loop()

    async def one_round() -> int:
        for _ in range(messages):
            client.reply = loop.create_future()
            client.transport.write(data)
            await client.reply
        return messages
    return one_round


async def run(messages: int = 1000, payload_bytes: int = 32, repeat: int = 3, min_cpu: float = MIN_CPU,
              max_rounds: int = MAX_ROUNDS, time_limit: float = TIME_LIMIT, show_progress: bool = True) -> list[dict]:
    """Every server started at once, then measured in turns (round robin), ``repeat`` times each:
    whatever else the machine does during the run falls on all of them alike."""
    frame_bytes = frame(0x1, b"x" * payload_bytes)
    labels = [label for label, _, _ in targets()]
    servers = list(zip(labels, ServerProcess.start_all((cmd, env) for _, cmd, env in targets())))
    repeats: dict[str, list] = {label: [] for label in labels}
    try:
        turns = [(label, server) for _ in range(repeat) for label, server in servers]
        for label, server in progress(turns, desc="echo", enabled=show_progress):
            client = await open_ws(server.port, "/ws/echo", Counting())
            try:
                one_round = echo_round(client, messages, frame_bytes)
                await echo_round(client, 50, frame_bytes)()  # warm-up, not measured
                repeats[label].append(await run_rounds(server.cpu, one_round, min_cpu / repeat, max_rounds,
                                                       time_limit))
            finally:
                await abort_all([client.transport])
    finally:
        ServerProcess.stop_all(server for _, server in servers)
    rows = []
    for label, _ in servers:
        reps = repeats[label]
        rates = [r.per_second for r in reps if r.per_second is not None]
        rows.append({"server": label, "round_trips": sum(r.units for r in reps), "rounds": sum(r.rounds for r in reps),
                     "round_trips_per_s": max(rates) if rates else None,
                     **cpu_figure(((r.cpu, r.units) for r in reps), min_cpu).fields(UNIT)})
    for r in rows:
        r["vs_raw"] = ratio(r["round_trips_per_s"], rows[0]["round_trips_per_s"])
    add_cpu_vs(rows, rows[0], f"cpu_us_per_{UNIT}")
    return rows


COLUMNS = [("server", "server", ""), ("round_trips_per_s", "round trips/s", ",.0f"), ("vs_raw", "vs raw", ".2f"),
           (f"cpu_us_per_{UNIT}", "server µs CPU/round trip (min–max)", fmt_cpu(f"cpu_us_per_{UNIT}", ".1f")),
           ("cpu_seconds", "CPU s", ".2f"), ("cpu_vs_raw", "CPU vs raw", fmt_ratio())]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtlab.bench echo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=1000, help="round trips per round")
    p.add_argument("--payload", type=int, default=32, help="bytes per message")
    p.add_argument("--repeat", type=int, default=3, help="repeats per server: CPU summed, the best round trips/s kept")
    add_cpu_arguments(p)
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args.messages, args.payload, args.repeat, args.min_cpu, args.max_rounds, args.time_limit))
    text = "\n\n".join(part for part in (table(rows, COLUMNS), cpu_footnote(rows, args.min_cpu),
                                          "target: rtlab at least 0.60 of the raw reference") if part)
    emit(rows, text, args.json)
    return 0
