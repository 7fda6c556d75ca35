"""What every benchmark shares: server processes, the open-files limit, tables, JSON, progress."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterable, Sequence

import psutil

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

    def __init__(self, cmd: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, **BENCH_ENV, **(env or {})})
        line = self.proc.stdout.readline()
        if "127.0.0.1:" not in line:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {' '.join(cmd)} printed {line!r}")
        self.port = int(line.split("127.0.0.1:")[1].split()[0].strip("/"))
        self.ps = psutil.Process(self.proc.pid)

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A plain-text table: columns are (key, heading, format spec); missing values print '-'."""
    cells = [[heading for _, heading, _ in columns]]
    for row in rows:
        line = []
        for key, _, spec in columns:
            value = row.get(key)
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
