"""``python -m rtlab serve ...`` as a real process, for the tests of workers and deployment."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class RtlabProcess:
    """The command line in a child process; its stdout and stderr read by threads as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = ["--port", "0", *args] if "--port" not in args else list(args)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self.url = self.ws_url = ""
        self.pids: list[int] = []
        self._eof = 0  # streams read to their end

    def start(self, timeout: float = 60.0) -> "RtlabProcess":
        self.proc = subprocess.Popen([sys.executable, "-m", "rtlab", "serve", *self.args], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()
        line = self.wait_for_line(self.out, r"rtlab serving on (http://\S+)", timeout)
        self.url = re.search(r"http://\S+", line).group(0)
        self.ws_url = "ws://" + self.url.removeprefix("http://")
        if found := re.search(r"\(pids ([\d ]+)\)", line):
            self.pids = [int(p) for p in found.group(1).split()]
        return self

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof += 1
            self._changed.notify_all()

    def wait_for_line(self, lines: list[str], pattern: str, timeout: float = 30.0) -> str:
        """The first line matching ``pattern`` (waits for it); AssertionError with the output if none comes."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in lines:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self._eof == 2:  # out of time, or the process closed both streams
                    raise AssertionError(f"no line matching {pattern!r}; exit status {self.proc.poll()}; "
                                         f"stdout {self.out}; stderr {self.err}")
                self._changed.wait(min(left, 0.5))

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "RtlabProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """``python -m rtlab serve ARGS`` to its end: for the refusals, which exit at once."""
    return subprocess.run([sys.executable, "-m", "rtlab", "serve", *args], env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def worker_of(ws) -> int:
    return int(ws.response.headers["x-rtlab-worker"])


def spread(stack: contextlib.ExitStack, url: str, pids: list[int], per_worker: int = 2,
           timeout: float = 60, **connect_kwargs) -> dict[int, list]:
    """Connect to ``url`` until each worker of ``pids`` holds ``per_worker`` connections (bounded in time).

    Connections to a worker that already holds enough are closed at once. A worker that has just
    started takes connections once it is ready: until then the others get them all."""
    held: dict[int, list] = {pid: [] for pid in pids}
    deadline = time.monotonic() + timeout
    while not all(len(held[pid]) >= per_worker for pid in pids):
        if time.monotonic() > deadline:
            raise AssertionError(f"not every worker took connections: {({k: len(v) for k, v in held.items()})}")
        one = contextlib.ExitStack()
        ws = one.enter_context(connect(url, open_timeout=30, **connect_kwargs))
        pid = worker_of(ws)
        if len(held.setdefault(pid, [])) >= per_worker:
            one.close()
            continue
        stack.enter_context(one)
        held[pid].append(ws)
    return held


def close_code(ws, timeout: float = 30) -> int:
    """Read until the server closes; the code of its close frame (fails if the socket was just dropped)."""
    deadline = time.monotonic() + timeout
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    assert closed.value.rcvd is not None, "the socket was dropped without a close frame"
    return closed.value.rcvd.code
