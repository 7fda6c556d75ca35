"""SSE benchmark: announcements to 1,000 subscribers, SSE servers next to WebSocket ones.

Side by side in one run, the same ~100-byte events to the same number of clients, each server
in its own process (uvicorn for all but the raw reference):

* ``raw-ws``        — the raw ``websockets`` library with ``broadcast()``: the reference (1.00);
* ``rtlab-ws``      — rtlab's ``/ws/broadcast`` (the hub), for comparison;
* ``rtlab-sse``     — rtlab's ``/sse/announcements``, fed by ``POST /announce``;
* ``fastapi-sse``   — the smallest ``fastapi.sse.EventSourceResponse`` app that does the same;
* ``sse-starlette`` — the same with sse-starlette's ``EventSourceResponse``
  (both in :mod:`rtlab.bench.sse_servers`).

The WebSocket runs are those of ``python -m rtlab.bench fanout`` (one sender on a socket,
without the stalled clients' burst). The SSE subscribers are bare HTTP clients
(:mod:`rtlab.bench.clients`) that count events and read a send timestamp out of each;
announcements are posted over ``--posters`` keep-alive HTTP connections at once. Every event
is counted: a round ends only when every subscriber has every event of it (or, after
``--timeout``, the row says how many arrived).

A *round* is ``--messages`` events; after a warm-up round, each repeat runs rounds until the
server used its share of ``--min-cpu`` (see :mod:`rtlab.bench.common`). Reported: deliveries per
second (best repeat) and its ratio to the reference, server CPU per delivery with its spread
over the repeats (``*``: from too little CPU) and the reference's figure over it (above 1 is
cheaper than raw), latency p50/p99, and the bytes of one event on the wire.

**Overload**: ``--overload-subscribers`` (200) subscribers of each SSE server, and
``--overload-announcements`` (1,500) announcements posted back to back over the keep-alive
connections, as fast as the server answers. Reported: how fast the posts were accepted, the
deliveries, and how many of these healthy subscribers (they read everything they are sent)
the server dropped: its stream ended before it had every event. ``0`` skips the scenario.

``--json`` rows carry ``scenario``: ``fanout`` rows have ``server``, ``clients``,
``deliveries``, ``rounds``, ``seconds``, ``deliveries_per_s``, ``vs_raw``,
``cpu_us_per_delivery``, ``cpu_us_min``, ``cpu_us_max``, ``cpu_seconds``, ``cpu_units``,
``cpu_reliable``, ``cpu_vs_raw``, ``cpu_vs_raw_reliable``, ``p50_ms``, ``p99_ms``,
``bytes_per_delivery``, ``complete`` and ``note``; ``overload`` rows have ``server``,
``subscribers``, ``announcements``, ``posted_per_s``, ``expected``, ``deliveries``,
``dropped`` (subscribers whose stream the server ended early), ``stuck`` (neither complete nor
ended after ``--timeout``), ``seconds`` and ``cpu_seconds``.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time

from . import fanout
from .clients import Poster, SseSubscriber, stamp, subscribe
from .common import (
    MAX_ROUNDS,
    MIN_CPU,
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
    ratio,
    run_repeats,
    summarize,
    table,
)

SSE_SERVER = [sys.executable, "-m", "rtlab.bench.sse_servers"]
# kind ("ws" runs through the fan-out benchmark's server kinds), command, path
SERVERS = {
    "raw-ws": ("ws", "raw", "/ws/broadcast"),
    "rtlab-ws": ("ws", "rtlab", "/ws/broadcast"),
    "rtlab-sse": ("sse", RTLAB, "/sse/announcements"),
    "fastapi-sse": ("sse", SSE_SERVER + ["fastapi"], "/sse/announcements"),
    "sse-starlette": ("sse", SSE_SERVER + ["starlette"], "/sse/announcements"),
}
SSE_KINDS = [name for name, (kind, _, _) in SERVERS.items() if kind == "sse"]
# A WebSocket message {"type":"message","username":"ctl","message":"B<19 digits><filler>"}: ~100 bytes,
# as an SSE announcement is (id, data: {"type":"announcement","message":...,"timestamp":...}).
WS_FILLER = "x" * 30
SUBSCRIBE_BATCH = 100


async def subscribe_all(port: int, path: str, n: int, subs: list[SseSubscriber], timeout: float) -> None:
    """``n`` subscribers, ``SUBSCRIBE_BATCH`` at a time, appended to ``subs`` as they come."""
    for first in range(0, n, SUBSCRIBE_BATCH):
        batch = min(n, first + SUBSCRIBE_BATCH) - first
        opened = await asyncio.gather(*(subscribe(port, path, timeout) for _ in range(batch)), return_exceptions=True)
        subs += [s for s in opened if isinstance(s, SseSubscriber)]
        errors = [s for s in opened if isinstance(s, BaseException)]
        if errors:
            raise errors[0]


async def post_all(posters: list[Poster], count: int, timeout: float) -> int:
    """``count`` announcements, shared among the posters, each posting back to back; how many
    were answered with something other than 200."""
    async def post_share(poster: Poster, k: int) -> int:
        failed = 0
        for _ in range(k):
            failed += await poster.post(f"/announce?message={stamp()}", timeout) != 200
        return failed

    shares = [count // len(posters) + (i < count % len(posters)) for i in range(len(posters))]
    return sum(await asyncio.gather(*(post_share(p, k) for p, k in zip(posters, shares) if k)))


def announce_round(posters: list[Poster], subs: list[SseSubscriber], messages: int, timeout: float):
    """One round: ``messages`` announcements, then wait until every subscriber has them all."""
    async def one_round() -> int:
        waits = [s.arm(messages) for s in subs]
        before = sum(s.got for s in subs)
        failed = await post_all(posters, messages, timeout)
        if failed:
            raise Incomplete(sum(s.got for s in subs) - before, f"{failed} of {messages} announcements refused")
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            got = sum(s.got for s in subs) - before
            ended = sum(s.ended.done() for s in subs)
            raise Incomplete(got, f"{got:,} of {len(subs) * messages:,} delivered in {timeout:g} s"
                                  + (f"; {ended} streams ended" if ended else ""))
        return len(subs) * messages
    return one_round


async def measure_sse(name: str, n: int, messages: int, posters: int, timeout: float, repeat: int,
                      min_cpu: float, max_rounds: int, time_limit: float) -> dict:
    _, cmd, path = SERVERS[name]
    row = {"scenario": "fanout", "server": name, "clients": n, "deliveries": 0, "rounds": 0, "seconds": 0.0,
           "deliveries_per_s": None, **cpu_figure([], min_cpu).fields(), "p50_ms": None, "p99_ms": None,
           "bytes_per_delivery": None, "complete": False, "note": ""}
    subs: list[SseSubscriber] = []
    conns: list[Poster] = []
    with ServerProcess(cmd) as server:
        try:
            await subscribe_all(server.port, path, n, subs, timeout)
            conns = [await Poster.open(server.port) for _ in range(posters)]
            one_round = announce_round(conns, subs, messages, timeout)
            repeats, note = await run_repeats(server.cpu, one_round, subs, repeat, min_cpu, max_rounds, time_limit)
            if not repeats:  # the warm-up round was incomplete
                row["note"] = note
                return row
        finally:
            await abort_all([s.transport for s in subs] + [p.transport for p in conns])
    return summarize(row, repeats, subs, note, min_cpu)


async def measure(name: str, n: int, messages: int = 10, posters: int = 8, timeout: float = 60.0, repeat: int = 3,
                  min_cpu: float = MIN_CPU, max_rounds: int = MAX_ROUNDS, time_limit: float = TIME_LIMIT) -> dict:
    """One row of the fan-out table: ``name``'s server, ``n`` subscribers, rounds of ``messages`` events."""
    kind, server, _ = SERVERS[name]
    if kind == "sse":
        return await measure_sse(name, n, messages, posters, timeout, repeat, min_cpu, max_rounds, time_limit)
    row = await fanout.measure(server, n, 0, messages, timeout, repeat, min_cpu, max_rounds, time_limit,
                               prefill=False, filler=WS_FILLER)
    row.pop("stalled")
    return {"scenario": "fanout", **row, "server": name}


async def overload(name: str, subscribers: int = 200, announcements: int = 1500, posters: int = 8,
                   timeout: float = 60.0) -> dict:
    """``announcements`` posted back to back to ``subscribers`` healthy subscribers: who was dropped?"""
    _, cmd, path = SERVERS[name]
    subs: list[SseSubscriber] = []
    conns: list[Poster] = []
    with ServerProcess(cmd) as server:
        try:
            await subscribe_all(server.port, path, subscribers, subs, timeout)
            conns = [await Poster.open(server.port) for _ in range(posters)]
            finished = []
            for s in subs:
                s.arm(announcements)
                finished.append(asyncio.ensure_future(asyncio.wait([s.done, s.ended],
                                                                   return_when=asyncio.FIRST_COMPLETED)))
            cpu0, start = server.cpu(), time.monotonic()
            failed = await post_all(conns, announcements, timeout)
            posted = time.monotonic() - start
            done, pending = await asyncio.wait(finished, timeout=timeout)
            for f in pending:
                f.cancel()
            seconds, cpu = time.monotonic() - start, server.cpu() - cpu0
        finally:
            await abort_all([s.transport for s in subs] + [p.transport for p in conns])
    complete = [s.got >= announcements for s in subs]
    return {"scenario": "overload", "server": name, "subscribers": subscribers, "announcements": announcements,
            "refused": failed, "posted_per_s": announcements / posted if posted > 0 else None,
            "expected": subscribers * announcements, "deliveries": sum(min(s.got, announcements) for s in subs),
            "dropped": sum(1 for s, ok in zip(subs, complete) if not ok and s.ended.done()),
            "stuck": sum(1 for s, ok in zip(subs, complete) if not ok and not s.ended.done()),
            "seconds": seconds, "cpu_seconds": cpu}


async def run(clients: int = 1000, messages: int = 10, servers=tuple(SERVERS), repeat: int = 3,
              timeout: float = 60.0, posters: int = 8, min_cpu: float = MIN_CPU, max_rounds: int = MAX_ROUNDS,
              time_limit: float = TIME_LIMIT, overload_subscribers: int = 200, overload_announcements: int = 1500,
              overload_servers=tuple(SSE_KINDS), show_progress: bool = True) -> list[dict]:
    """The fan-out rows (``servers``, side by side), then the overload rows; as in ``--json``."""
    raise_nofile(2 * max(clients, overload_subscribers) + 500)
    jobs = [("fanout", name) for name in servers]
    if overload_subscribers > 0 and overload_announcements > 0:
        jobs += [("overload", name) for name in overload_servers]
    rows = []
    for scenario, name in progress(jobs, desc="sse", enabled=show_progress):
        if scenario == "fanout":
            rows.append(await measure(name, clients, messages, posters, timeout, repeat, min_cpu, max_rounds,
                                      time_limit))
        else:
            rows.append(await overload(name, overload_subscribers, overload_announcements, posters, timeout))
    fan = [r for r in rows if r["scenario"] == "fanout"]
    ref = next((r for r in fan if r["server"] == "raw-ws"), None)
    for r in fan:
        r["vs_raw"] = ratio(r["deliveries_per_s"], ref["deliveries_per_s"]) if ref is not None else None
    add_cpu_vs(fan, ref)
    return rows


COLUMNS = [("server", "server", ""), ("clients", "clients", ","), ("deliveries_per_s", "deliveries/s", ",.0f"),
           ("vs_raw", "vs raw", ".2f"), ("cpu_us_per_delivery", "µs CPU/delivery (min–max)", fmt_cpu()),
           ("cpu_seconds", "CPU s", ".2f"), ("cpu_vs_raw", "CPU vs raw", fmt_ratio()),
           ("p50_ms", "p50 ms", ".1f"), ("p99_ms", "p99 ms", ".1f"), ("bytes_per_delivery", "bytes/event", ".0f"),
           ("note", "note", "")]
OVERLOAD_COLUMNS = [("server", "overload", ""), ("subscribers", "subscribers", ","),
                    ("announcements", "announcements", ","), ("posted_per_s", "posts/s", ",.0f"),
                    ("deliveries", "delivered", ","), ("expected", "of", ","),
                    ("dropped", "subscribers dropped", ""), ("stuck", "stuck", ""), ("seconds", "seconds", ".1f")]


def text(rows: list[dict], min_cpu: float) -> str:
    fan = [r for r in rows if r["scenario"] == "fanout"]
    over = [r for r in rows if r["scenario"] == "overload"]
    parts = [table(fan, COLUMNS) if fan else "", cpu_footnote(fan, min_cpu),
             table(over, OVERLOAD_COLUMNS) if over else ""]
    return "\n\n".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> int:
    names = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    p = argparse.ArgumentParser(prog="python -m rtlab.bench sse", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=1000, help="subscribers (and WebSocket receivers)")
    p.add_argument("--messages", type=int, default=10, help="events per round")
    p.add_argument("--servers", type=names, default=list(SERVERS), help=f"any of {','.join(SERVERS)}")
    p.add_argument("--repeat", type=int, default=3, help="repeats per server: CPU summed, the best deliveries/s kept")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before a round counts as incomplete")
    p.add_argument("--posters", type=int, default=8, help="keep-alive connections posting announcements")
    add_cpu_arguments(p)
    p.add_argument("--overload-subscribers", type=int, default=200, help="0: skip the overload scenario")
    p.add_argument("--overload-announcements", type=int, default=1500)
    p.add_argument("--overload-servers", type=names, default=SSE_KINDS, help=f"any of {','.join(SSE_KINDS)}")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of tables")
    args = p.parse_args(argv)
    unknown = [s for s in args.servers if s not in SERVERS] + [s for s in args.overload_servers if s not in SSE_KINDS]
    if unknown:
        p.error(f"unknown server(s): {', '.join(unknown)}")
    rows = asyncio.run(run(args.clients, args.messages, args.servers, args.repeat, args.timeout, args.posters,
                           args.min_cpu, args.max_rounds, args.time_limit, args.overload_subscribers,
                           args.overload_announcements, args.overload_servers))
    emit(rows, text(rows, args.min_cpu), args.json)
    return 0
