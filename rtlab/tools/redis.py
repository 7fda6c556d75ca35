"""A ``redis-server`` of your own, on a free loopback port: for notebooks, tests and benchmarks.

``available()`` says whether there is one to start; ``RedisServer()`` without one raises
``NoRedis`` (a ``RuntimeError``) whose message gives the command that installs it here.
"""
from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import sys
import time
import weakref

__all__ = ["INSTALL_HINT", "NoRedis", "RedisServer", "available", "free_port", "install_hint"]


class NoRedis(RuntimeError):
    """No ``redis-server`` on PATH."""


def install_hint(platform: str | None = None) -> str:
    """One line: redis-server is missing, and the command that installs it on this platform."""
    platform = platform or sys.platform
    if platform == "darwin":
        how = "`brew install redis` (Homebrew)"
    elif platform == "win32":
        how = ("Redis does not support Windows itself: run the lab inside WSL (`wsl --install`, then in Ubuntu "
               "`sudo apt-get install redis-server`)")
    else:
        how = "`sudo apt-get install redis-server` (Debian/Ubuntu; elsewhere your distribution's redis package)"
    return f"redis-server is not installed: {how}"


INSTALL_HINT = install_hint()


def available() -> bool:
    """Whether a ``redis-server`` is on PATH: test it before ``RedisServer()``."""
    return shutil.which("redis-server") is not None


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


class RedisServer:
    """``redis-server --save '' --appendonly no`` on 127.0.0.1; nothing persists; stopped by PID."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise NoRedis(install_hint())
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        _started.add(self)  # stopped at exit, if nobody did
        deadline = time.monotonic() + timeout
        while not self._answers():  # ready when it answers PING (about 30 ms)
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<redis-server {'running' if self.proc else 'stopped'}>"


def _die_with_parent() -> None:
    """In the child, on Linux: get SIGTERM when the process that started it dies (a killed kernel
    must not leave a redis-server behind). Elsewhere the atexit hook below is all there is."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


_started: "weakref.WeakSet[RedisServer]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_started):
        server.stop()
