"""What every benchmark shares: server processes, server CPU figures, the open-files limit,
tables, JSON, progress.

**Server CPU, measured honestly.** A process's CPU clock (``psutil``, ``/proc/PID/stat``)
advances in 10 ms ticks: a run whose server uses 20 ms of CPU reads 0, 1 or 2 ticks, and a
ratio of two such readings is noise. So every benchmark that reports server CPU measures it
the same way (:func:`run_rounds`, :func:`cpu_figure`):

* each of the ``--repeat`` repeats runs *rounds* of its workload in the same server process,
  one after another, until that repeat's server CPU reaches ``--min-cpu`` / ``--repeat``
  (``--min-cpu`` is 1.0 s of server CPU per cell in total by default), or until it has run
  ``--max-rounds`` rounds, or for ``--time-limit`` seconds: every run stays bounded;
* the figure is the total server CPU over the total units (deliveries, round trips) of all
  repeats, with the spread (min–max) of the per-repeat figures, and the CPU seconds it came from;
* a figure whose CPU did not reach ``--min-cpu``, or :data:`CPU_FLOOR` (1 s, 100 ticks) whatever
  ``--min-cpu`` says, is flagged unreliable: ``*`` in the tables, ``cpu_reliable: false`` in JSON;
* a zero is a value: 0.0 µs is printed as 0.00 (and flagged), never as ``-``. Only a figure
  that does not exist (nothing was delivered) is ``None`` in JSON and ``-`` in a table.

Throughput (deliveries/s, round trips/s) is the best of the repeats: noise only adds time.

The CPU fields of the ``--json`` rows (``UNIT`` is ``delivery`` or ``round_trip``):

* ``cpu_us_per_UNIT`` — server CPU µs per unit: total CPU / total units (None: no unit measured);
* ``cpu_us_min``, ``cpu_us_max`` — the lowest and highest per-repeat figure;
* ``cpu_seconds`` — the server CPU seconds the figure came from; ``cpu_units`` the units;
* ``cpu_reliable`` — False when ``cpu_seconds`` is under ``--min-cpu`` or :data:`CPU_FLOOR`;
* ``cpu_vs_raw`` — the raw reference's figure over this one (above 1: cheaper than raw), None
  when either is missing or this one is 0; ``cpu_vs_raw_reliable`` — both figures reliable;
* ``rounds`` — the rounds measured, over all repeats.
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import psutil

__all__ = ["CpuFigure", "ServerProcess", "cpu_figure", "percentiles", "ratio", "table"]

RAW = [sys.executable, "-m", "rtlab.bench.raw_server"]
RTLAB = [sys.executable, "-m", "rtlab", "serve", "--port", "0"]
# Benchmarks push thousands of messages down one connection: the per-connection rate limit is off.
BENCH_ENV = {"RTLAB_SECRET": "bench", "PYTHONUNBUFFERED": "1", "RTLAB_RATE_LIMIT": "0"}


def raise_nofile(needed: int) -> int:
    """Raise this process's open-files limit (children inherit it) to ``needed``, or fail clearly."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft < needed:
        raise SystemExit(f"rtlab.bench: needs {needed} open files, the hard limit is {hard} (ulimit -Hn)")
    return soft


class ServerProcess:
    """A server in its own process: its port (from the first line it prints), CPU time and RSS."""

    def __init__(self, cmd: Sequence[str], env: dict[str, str] | None = None, wait: bool = True) -> None:
        self.cmd = list(cmd)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, **BENCH_ENV, **(env or {})})
        self.ps = psutil.Process(self.proc.pid)
        self.port = 0
        if wait:
            self.ready()

    def ready(self) -> "ServerProcess":
        """Wait for the line that says the server listens, and read its port from it."""
        if not self.port:
            line = self.proc.stdout.readline()
            if "127.0.0.1:" not in line:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"server did not start: {' '.join(self.cmd)} printed {line!r}")
            self.port = int(line.split("127.0.0.1:")[1].split()[0].strip("/"))
        return self

    @classmethod
    def start_all(cls, specs: Iterable[tuple[Sequence[str], dict[str, str] | None]]) -> list["ServerProcess"]:
        """Several servers started at once (they import in parallel), each ready when this returns."""
        servers = [cls(cmd, env, wait=False) for cmd, env in specs]
        try:
            for server in servers:
                server.ready()
        except BaseException:
            cls.stop_all(servers)
            raise
        return servers

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def interrupt(self) -> None:
        """Ask the server to stop (SIGINT) without waiting for it: :meth:`stop` waits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    @staticmethod
    def stop_all(servers: Iterable["ServerProcess"]) -> None:
        """Stop several servers at once: all interrupted, then each waited for."""
        servers = list(servers)
        for server in servers:
            server.interrupt()
        for server in servers:
            server.stop()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def table(rows: list[dict], columns: list[tuple[str, str, str | Callable[[dict], str]]]) -> str:
    """A plain-text table: columns are (key, heading, format spec or function of the row).

    A missing value (None) prints ``-``; a zero prints as a zero.
    """
    cells = [[heading for _, heading, _ in columns]]
    for row in rows:
        line = []
        for key, _, spec in columns:
            value = row.get(key)
            if callable(spec):
                line.append(spec(row))
            else:
                line.append("-" if value is None else format(value, spec) if spec else str(value))
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = []
    for r in cells:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def emit(rows: list[dict], text: str, as_json: bool) -> None:
    """Print the table, or the rows as JSON (for notebooks and scripts)."""
    print(json.dumps(rows, indent=1) if as_json else text)


def progress(items: Iterable, total: int | None = None, desc: str = "", enabled: bool = True):
    """A tqdm bar on stderr for long runs (off when stderr is not a terminal, or when asked)."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, file=sys.stderr, leave=False, disable=None)


# --- server CPU ----------------------------------------------------------------------------

TICK = 0.01  # seconds: the resolution of a process's CPU clock (USER_HZ = 100)
CPU_FLOOR = 100 * TICK  # below 1 s of CPU, no figure is reliable, whatever --min-cpu says
EPSILON = 1e-6  # seconds: sums of clock readings are floats (0.15 + 0.15 may be 0.29999999999999993)
MIN_CPU = 1.0  # default --min-cpu: seconds of server CPU per cell, over all its repeats
MAX_ROUNDS = 1000  # default --max-rounds, per repeat
TIME_LIMIT = 60.0  # default --time-limit: wall-clock seconds per repeat


class Incomplete(Exception):
    """A round did not deliver everything in time: ``delivered`` units came, and ``note`` says why."""

    def __init__(self, delivered: int, note: str) -> None:
        super().__init__(note)
        self.delivered = delivered
        self.note = note


@dataclass
class Repeat:
    """One repeat: rounds of a workload in one server process, until its CPU target.

    Only complete rounds count: ``units``, ``cpu`` (server CPU seconds) and ``seconds`` (wall
    clock) are theirs. ``note`` says why the repeat ended early when a round was incomplete.
    """

    units: int = 0
    cpu: float = 0.0
    seconds: float = 0.0
    rounds: int = 0
    note: str = ""

    @property
    def per_second(self) -> float | None:
        return self.units / self.seconds if self.units > 0 and self.seconds > 0 else None


async def run_rounds(server_cpu: Callable[[], float], one_round: Callable[[], Awaitable[int]], target: float,
                     max_rounds: int = MAX_ROUNDS, time_limit: float = TIME_LIMIT) -> Repeat:
    """Run ``one_round()`` (which returns the units it delivered, or raises :class:`Incomplete`)
    again and again until the server has used ``target`` seconds of CPU since the first round,
    or ``max_rounds`` rounds ran, or ``time_limit`` seconds passed; at least one round.

    The server's CPU clock is read before the first round and after each one; the repeat's CPU
    is the whole interval's (first reading to last): a round shorter than a tick costs no accuracy.
    """
    rep = Repeat()
    start = time.monotonic()
    cpu0 = server_cpu()
    while True:
        try:
            units = await one_round()
        except Incomplete as exc:
            rep.note = exc.note
            return rep
        cpu_now, t_now = server_cpu(), time.monotonic()
        rep.units += units
        rep.cpu = cpu_now - cpu0
        rep.seconds = t_now - start
        rep.rounds += 1
        if cpu_now - cpu0 >= target or rep.rounds >= max_rounds or t_now - start >= time_limit:
            return rep


async def run_repeats(server_cpu: Callable[[], float], one_round: Callable[[], Awaitable[int]], receivers: Iterable,
                      repeat: int, min_cpu: float, max_rounds: int = MAX_ROUNDS,
                      time_limit: float = TIME_LIMIT) -> tuple[list[Repeat], str]:
    """A warm-up round (not measured), then ``repeat`` repeats sharing ``min_cpu`` seconds of server
    CPU (:func:`run_rounds`); the receivers' latencies start after the warm-up. Returns the repeats
    and a note ("" when every round was complete): a failed warm-up gives no repeats."""
    try:
        await one_round()
    except Incomplete as exc:
        return [], exc.note
    for r in receivers:
        r.latencies.clear()
    repeats: list[Repeat] = []
    for _ in range(repeat):
        rep = await run_rounds(server_cpu, one_round, min_cpu / repeat, max_rounds, time_limit)
        repeats.append(rep)
        if rep.note:
            return repeats, rep.note
    return repeats, ""


def summarize(row: dict, repeats: list[Repeat], receivers: list, note: str, min_cpu: float) -> dict:
    """Fill a delivery row from its repeats and its receivers (each with ``got``, ``bytes`` and
    ``latencies``): deliveries, rounds, the best rate, the CPU figure, latencies, bytes per delivery."""
    rates = [r.per_second for r in repeats if r.per_second is not None]
    p50, p99 = percentiles(receivers)
    got = sum(c.got for c in receivers)
    row.update({"deliveries": sum(r.units for r in repeats), "rounds": sum(r.rounds for r in repeats),
                "seconds": sum(r.seconds for r in repeats), "deliveries_per_s": max(rates) if rates else None,
                **cpu_figure(((r.cpu, r.units) for r in repeats), min_cpu).fields(), "p50_ms": p50, "p99_ms": p99,
                "bytes_per_delivery": sum(c.bytes for c in receivers) / got if got > 0 else None,
                "complete": not note, "note": note})
    return row


@dataclass(frozen=True)
class CpuFigure:
    """Server CPU per unit (µs) over every repeat, with its spread and where it came from."""

    us: float | None  # total CPU / total units; None when no unit was measured
    us_min: float | None  # the lowest per-repeat figure
    us_max: float | None  # the highest per-repeat figure
    seconds: float  # the CPU seconds it came from
    units: int
    reliable: bool  # seconds reached the minimum asked for (and CPU_FLOOR)

    def fields(self, unit: str = "delivery") -> dict:
        """The figure as ``--json`` row fields (see the module docstring)."""
        return {f"cpu_us_per_{unit}": self.us, "cpu_us_min": self.us_min, "cpu_us_max": self.us_max,
                "cpu_seconds": self.seconds, "cpu_units": self.units, "cpu_reliable": self.reliable}


def cpu_figure(samples: Iterable[tuple[float, int]], min_cpu: float = MIN_CPU) -> CpuFigure:
    """The CPU figure of ``(cpu seconds, units)`` per repeat.

    A repeat with no unit has no figure of its own (it is left out of the spread). A zero CPU
    reading is a value: 0.0 µs, flagged unreliable since it is under the floor.
    """
    samples = [(cpu, units) for cpu, units in samples]
    cpu = sum(c for c, _ in samples)
    units = sum(u for _, u in samples)
    per = [c / u * 1e6 for c, u in samples if u > 0]
    return CpuFigure(us=cpu / units * 1e6 if units > 0 else None,
                     us_min=min(per) if per else None, us_max=max(per) if per else None,
                     seconds=cpu, units=units,
                     reliable=units > 0 and cpu >= max(min_cpu, CPU_FLOOR) - EPSILON)


def ratio(num: float | None, den: float | None) -> float | None:
    """``num / den``, or None when either is missing or ``den`` is 0 (a zero is a value, not a gap)."""
    if num is None or den is None or den == 0:
        return None
    return num / den


def add_cpu_vs(rows: list[dict], ref: dict | None, key: str = "cpu_us_per_delivery") -> None:
    """Add ``cpu_vs_raw`` (reference µs / row µs: above 1 is cheaper) and its reliability to each row."""
    for r in rows:
        r["cpu_vs_raw"] = ratio(ref.get(key), r.get(key)) if ref is not None else None
        r["cpu_vs_raw_reliable"] = bool(ref is not None and ref.get("cpu_reliable") and r.get("cpu_reliable"))


def fmt_cpu(key: str = "cpu_us_per_delivery", spec: str = ".2f") -> Callable[[dict], str]:
    """A table cell: ``1.02 (0.98–1.07)``; ``*`` marks a figure from too little CPU; ``-`` none."""
    def cell(row: dict) -> str:
        value = row.get(key)
        if value is None:
            return "-"
        text = format(value, spec)
        lo, hi = row.get("cpu_us_min"), row.get("cpu_us_max")
        if lo is not None and hi is not None:
            text += f" ({lo:{spec}}–{hi:{spec}})"
        return text + ("" if row.get("cpu_reliable") else "*")
    return cell


def fmt_ratio(key: str = "cpu_vs_raw", reliable_key: str = "cpu_vs_raw_reliable") -> Callable[[dict], str]:
    """A table cell for a CPU ratio: ``2.40``; ``*`` when either figure is unreliable; ``-`` none."""
    def cell(row: dict) -> str:
        value = row.get(key)
        if value is None:
            return "-"
        return f"{value:.2f}" + ("" if row.get(reliable_key) else "*")
    return cell


def cpu_footnote(rows: list[dict], min_cpu: float) -> str:
    """The note under a table whose rows have unreliable CPU figures (empty if none has)."""
    if all(r.get("cpu_reliable") or r.get("cpu_units", 0) == 0 for r in rows):
        return ""
    return (f"* from less than {max(min_cpu, CPU_FLOOR):g} s of server CPU (its clock ticks in {TICK * 1000:g} ms): "
            "noise, not a measurement (each repeat also stops at --max-rounds rounds or --time-limit seconds)")


def add_cpu_arguments(p) -> None:
    """The options every benchmark that measures server CPU takes."""
    p.add_argument("--min-cpu", type=float, default=MIN_CPU,
                   help="seconds of server CPU per cell, over all its repeats (default %(default)s): "
                        "each repeat runs rounds until it used its share")
    p.add_argument("--max-rounds", type=int, default=MAX_ROUNDS, help="most rounds per repeat (default %(default)s)")
    p.add_argument("--time-limit", type=float, default=TIME_LIMIT,
                   help="most wall-clock seconds per repeat (default %(default)s)")


def percentiles(clients: Iterable) -> tuple[float | None, float | None]:
    """Delivery latency p50 and p99 over every client's ``latencies`` (ns), in ms; None if none."""
    lat = sorted(x for c in clients for x in c.latencies)
    if not lat:
        return None, None
    return lat[len(lat) // 2] / 1e6, lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e6


async def abort_all(transports: Iterable) -> None:
    """Abort every transport and let the loop close their sockets now (an abort closes the socket
    in a callback: a server stopped before that callback ran still sees every connection open)."""
    for t in transports:
        t.abort()
    await asyncio.sleep(0)
