"""Fan-out benchmark: one sender, N receivers, three servers side by side.

* ``raw``   — the raw ``websockets`` library with ``websockets.broadcast()``: the reference;
* ``rtlab`` — rtlab's ``/ws/broadcast`` (the hub: outboxes, writer tasks, frames built once);
* ``naive`` — rtlab's ``/ws/naive/broadcast``: the tutorial loop that awaits each client in turn.

Each server runs in its own process, one per cell of the table; the clients run in this one, as
light as possible (:mod:`rtlab.bench.clients`: they count frames and read a send timestamp out
of each). A *round* is ``--messages`` broadcasts sent back to back, until every receiver has
every one of them. After one warm-up round, each of the ``--repeat`` repeats runs rounds until
the server has used its share of ``--min-cpu`` (see :mod:`rtlab.bench.common`).

Server efficiency is server CPU per delivery (from the server process's CPU clock), so that the
clients' own cost, which shares this 2-core machine, does not blur the comparison; it is
printed with its spread over the repeats, e.g. ``1.02 (0.98–1.07)``, and ``*`` marks a figure
from too little CPU to be more than noise. Deliveries/s (the best repeat) and delivery latency
(send to receipt, p50/p99, over every measured round) are reported too.

The stalled scenario adds two clients that complete the handshake and never read. Before
the healthy clients join, the sender pushes a burst big enough (8 MB) to fill the stalled
clients' socket buffers, in both scenarios alike, so that only the stalled clients differ
(``--stalled 0`` runs one scenario, without the burst).

``--json`` rows: ``server``, ``clients``, ``stalled``, ``deliveries`` (counted, over the measured
rounds), ``rounds``, ``seconds`` (their wall-clock time), ``deliveries_per_s`` (best repeat),
``cpu_us_per_delivery``, ``cpu_us_min``, ``cpu_us_max``, ``cpu_seconds``, ``cpu_units``,
``cpu_reliable``, ``cpu_vs_raw``, ``cpu_vs_raw_reliable`` (see :mod:`rtlab.bench.common`),
``p50_ms``, ``p99_ms``, ``bytes_per_delivery`` (a frame, on the wire), ``complete`` (every round
delivered everything) and ``note``.
"""
from __future__ import annotations

import argparse
import asyncio
import json

from .clients import Counting, Stalled, open_ws, stamp
from .common import (
    MAX_ROUNDS,
    MIN_CPU,
    RAW,
    RTLAB,
    TIME_LIMIT,
    Incomplete,
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
    raise_nofile,
    run_repeats,
    summarize,
    table,
)

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


class Server(ServerProcess):
    """One of :data:`SERVERS` in its own process; ``path`` is its broadcast endpoint."""

    def __init__(self, kind: str, extra: list[str] | None = None) -> None:
        cmd, self.path = SERVERS[kind]
        super().__init__(cmd + (extra or []))


async def open_receivers(port: int, path: str, n: int, transports: list, batch: int = 100) -> list[Counting]:
    """n counting receivers on ``path``, opened ``batch`` at a time; their transports recorded."""
    clients: list[Counting] = []
    for first in range(0, n, batch):
        opened = await asyncio.gather(*(open_ws(port, f"{path}?username=u{i}", Counting(big_over=PREFILL_CHUNK))
                                        for i in range(first, min(n, first + batch))), return_exceptions=True)
        for c in opened:
            if isinstance(c, Counting):
                clients.append(c)
                transports.append(c.transport)
        errors = [c for c in opened if isinstance(c, BaseException)]
        if errors:
            raise errors[0]
    return clients


def broadcast_round(sender: Counting, clients: list[Counting], messages: int, timeout: float, filler: str = ""):
    """One round: ``messages`` broadcasts back to back, then wait until every client has them all.

    Each message is a send time (:func:`~rtlab.bench.clients.stamp`) followed by ``filler``.
    """
    async def one_round() -> int:
        waits = [c.arm(messages) for c in clients]
        before = sum(c.got for c in clients)
        for _ in range(messages):
            sender.send_text(json.dumps({"message": stamp() + filler}))
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            got = sum(c.got for c in clients) - before
            raise Incomplete(got, f"stalled: {got:,} of {len(clients) * messages:,} delivered in {timeout:g} s")
        return len(clients) * messages
    return one_round


async def measure(kind: str, n: int, stalled: int = 0, messages: int = 100, timeout: float = 10.0,
                  repeat: int = 3, min_cpu: float = MIN_CPU, max_rounds: int = MAX_ROUNDS,
                  time_limit: float = TIME_LIMIT, prefill: bool = True, filler: str = "") -> dict:
    """One cell of the table: ``kind``'s server in its own process, ``n`` receivers, ``stalled`` stalled.

    ``prefill=False`` skips the burst that fills stalled clients' buffers; ``filler`` follows
    the send time in each message (to set the message's size).
    """
    row = {"server": kind, "clients": n, "stalled": stalled, "deliveries": 0, "rounds": 0, "seconds": 0.0,
           "deliveries_per_s": None, **cpu_figure([], min_cpu).fields(), "p50_ms": None, "p99_ms": None,
           "bytes_per_delivery": None, "complete": False, "note": ""}
    server = Server(kind)
    transports = []
    try:
        port, path = server.port, server.path
        sender = await open_ws(port, f"{path}?username=ctl", Counting(big_over=PREFILL_CHUNK))
        transports.append(sender.transport)
        for _ in range(stalled):
            s = await open_ws(port, f"{path}?username=stalled", Stalled())
            transports.append(s.transport)
        # The burst that fills a stalled client's buffers (sent in both scenarios alike). The
        # sender gets its own broadcasts back, so it keeps at most PREFILL_WINDOW of them in
        # flight: it must not be the slow consumer itself. A server that stops delivering during
        # the burst (the naive loop, blocked on a stalled client) is stalled: the cell ends there.
        chunk = json.dumps({"message": "x" * PREFILL_CHUNK})
        wait = min(PREFILL_WAIT, timeout)
        for i in range(PREFILL_BYTES // PREFILL_CHUNK if prefill else 0):
            if i >= PREFILL_WINDOW and not await sender.received_big(i - PREFILL_WINDOW + 1, wait):
                row["note"] = f"stalled: no delivery within {wait:g} s"
                return row
            sender.send_text(chunk)
        clients = await open_receivers(port, path, n, transports)
        sender.send_text(json.dumps({"message": "SYNC"}))
        try:
            await asyncio.wait_for(asyncio.gather(*(c.synced for c in clients)), timeout)
        except TimeoutError:
            row["note"] = f"stalled: no delivery within {timeout:g} s"
            return row
        one_round = broadcast_round(sender, clients, messages, timeout, filler)
        repeats, note = await run_repeats(server.cpu, one_round, clients, repeat, min_cpu, max_rounds, time_limit)
        if not repeats:  # the warm-up round was incomplete
            row["note"] = note
            return row
    finally:
        await abort_all(transports)
        server.stop()
    return summarize(row, repeats, clients, note, min_cpu)


async def run(clients: list[int], messages: int = 100, stalled: int = 2, servers=("raw", "rtlab", "naive"),
              timeout: float = 10.0, repeat: int = 3, min_cpu: float = MIN_CPU, max_rounds: int = MAX_ROUNDS,
              time_limit: float = TIME_LIMIT, show_progress: bool = True) -> list[dict]:
    """Every (clients, stalled, server) cell, side by side in one run; rows as in ``--json``."""
    raise_nofile(2 * max(clients) + 500)
    cells = [(n, s, kind) for n in clients for s in ((0, stalled) if stalled else (0,)) for kind in servers]
    rows = []
    for n, s, kind in progress(cells, desc="fanout", enabled=show_progress):
        rows.append(await measure(kind, n, s, messages, timeout, repeat, min_cpu, max_rounds, time_limit,
                                  prefill=stalled > 0))
    for n, s in {(r["clients"], r["stalled"]) for r in rows}:
        cell = [r for r in rows if (r["clients"], r["stalled"]) == (n, s)]
        add_cpu_vs(cell, next((r for r in cell if r["server"] == "raw"), None))
    return rows


COLUMNS = [("server", "server", ""), ("clients", "clients", ","), ("stalled", "stalled", ""),
           ("deliveries_per_s", "deliveries/s", ",.0f"),
           ("cpu_us_per_delivery", "µs CPU/delivery (min–max)", fmt_cpu()),
           ("cpu_seconds", "CPU s", ".2f"), ("cpu_vs_raw", "CPU vs raw", fmt_ratio()),
           ("p50_ms", "p50 ms", ".1f"), ("p99_ms", "p99 ms", ".1f"), ("note", "note", "")]


def stall_summary(rows: list[dict]) -> str:
    """Per server and client count: did the stalled clients block the others, and what did they cost?

    Compared on server CPU per delivery, not deliveries/s: wall-clock rates are bounded by the
    clients, which share the machine, and vary more from run to run than the server's work.
    """
    out = []
    for kind in dict.fromkeys(r["server"] for r in rows):
        for n in sorted({r["clients"] for r in rows}):
            base = next((r for r in rows if r["server"] == kind and r["clients"] == n and r["stalled"] == 0), None)
            slow = next((r for r in rows if r["server"] == kind and r["clients"] == n and r["stalled"] > 0), None)
            if base is None or slow is None:
                continue
            if not slow["complete"]:
                out.append(f"{kind:6} {n:5} clients: blocked by {slow['stalled']} stalled clients ({slow['note']})")
            elif slow["cpu_us_per_delivery"] is not None and base["cpu_us_per_delivery"] is not None:
                out.append(f"{kind:6} {n:5} clients: not blocked by {slow['stalled']} stalled clients; "
                           f"µs CPU/delivery {fmt_cpu()(slow)} with them, {fmt_cpu()(base)} without")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtlab.bench fanout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default="100,200,500,1000", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--messages", type=int, default=100, help="broadcasts per round")
    p.add_argument("--stalled", type=int, default=2, help="stalled clients in the second scenario (0: skip it)")
    p.add_argument("--servers", default="raw,rtlab,naive", type=lambda s: s.split(","))
    p.add_argument("--timeout", type=float, default=10.0, help="seconds before a round counts as stalled")
    p.add_argument("--repeat", type=int, default=3, help="repeats per cell: CPU summed, the best deliveries/s kept")
    add_cpu_arguments(p)
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args.clients, args.messages, args.stalled, args.servers, args.timeout, args.repeat,
                           args.min_cpu, args.max_rounds, args.time_limit))
    text = "\n\n".join(part for part in (table(rows, COLUMNS), cpu_footnote(rows, args.min_cpu),
                                          stall_summary(rows) if args.stalled else "") if part)
    emit(rows, text, args.json)
    return 0
