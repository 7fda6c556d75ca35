"""``python -m rtlab serve --workers N``: N worker processes on one listening socket.

The supervisor is uvicorn's own (:class:`uvicorn.supervisors.Multiprocess`): the parent binds
the socket once and hands it to N processes started with ``spawn``; each worker accepts on it
(the kernel spreads new connections over them); the parent pings every worker every half
second (a worker that stops answering within ``timeout_worker_healthcheck`` is killed) and
starts a new one in place of one that died; SIGINT/SIGTERM to the parent sends SIGTERM to
every worker, which shuts down as the single process does (WebSockets closed with 1012,
SSE streams ended cleanly) and the parent waits for them. SIGHUP replaces the workers one by
one; SIGTTIN/SIGTTOU add or remove one.

What rtlab adds around it:

* each worker runs rtlab's server class (:class:`rtlab.internals.UvicornServer`: the app is
  told when shutdown begins, so its streams end) on an app it builds itself from the parent's
  :class:`~rtlab.settings.Settings` (pickled to it, the secret included: a token one worker
  signs, every other accepts);
* a worker gets SIGTERM when the parent dies, even by SIGKILL (``PR_SET_PDEATHSIG``): no
  orphan keeps the port;
* a worker that dies is logged as a warning with how it ended (uvicorn logs it at INFO, which
  rtlab's warning-level console hides), and the others go on while a new one starts;
* every response and WebSocket handshake says which process answered: ``X-Rtlab-Worker: PID``.
"""
from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import sys
from unittest import mock

from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

from . import internals
from .settings import Settings

log = logging.getLogger("rtlab")

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
WORKER_LOG_FORMAT = "%(levelname)s %(name)s [worker %(process)d]: %(message)s"
WORKERS_PER_CPU = 8
# uvicorn pings every worker every 0.5 s and kills one that does not answer within this (its
# default, 5 s). A worker answers from a thread of its own, so a blocked event loop still answers;
# but a new worker answers only once spawned and imported, which took over 5 s on a loaded
# 2-CPU machine: uvicorn then killed it and started another, again and again.
HEALTHCHECK_TIMEOUT = 30


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's cpuset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    """The most ``--workers`` accepted: 8 per CPU.

    A worker is one event loop, so past one per CPU more workers add memory (a Python process
    with the app, tens of MB each), a Redis connection each and context switches, not throughput.
    Common advice is one to two per CPU (gunicorn suggests 2 x CPUs + 1); 8 per CPU leaves room
    for that and for workers that mostly wait, and refuses what can only be a mistake (100 on a
    laptop, an extra zero).
    """
    return WORKERS_PER_CPU * cpu_count()


def parse_workers(text: str | int | None) -> int:
    """The worker count from the command line; ``ValueError`` with one line saying what is wrong."""
    if text is None:
        return 1
    cap = max_workers()
    try:
        n = int(str(text).strip())
    except ValueError:
        raise ValueError(f"--workers must be a whole number from 1 to {cap}, not {str(text)!r}") from None
    if n < 1:
        raise ValueError(f"--workers must be at least 1, not {n}")
    if n > cap:
        raise ValueError(f"--workers {n} is more than this machine sensibly runs: at most {cap} "
                         f"({WORKERS_PER_CPU} per CPU, {cpu_count()} CPU{'s' if cpu_count() > 1 else ''})")
    return n


class WorkerHeader:
    """ASGI middleware: ``X-Rtlab-Worker: <pid>`` on every HTTP response and WebSocket handshake."""

    def __init__(self, app) -> None:
        self.app = app
        self.header = (b"x-rtlab-worker", str(os.getpid()).encode())  # built in the worker process

    def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return self.app(scope, receive, send)
        header = self.header

        async def send_with_pid(message):
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*(message.get("headers") or ()), header]}
            await send(message)

        return self.app(scope, receive, send_with_pid)


def build_app(settings: Settings):
    """rtlab's app as each worker serves it: with ``X-Rtlab-Worker`` (one process goes without)."""
    from .app import create_app

    app = create_app(settings)
    app.add_middleware(WorkerHeader)
    return app


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


class Worker(multiprocess.Process):
    """uvicorn's worker process, running rtlab's server class on an app it builds itself."""

    def __init__(self, config, sockets) -> None:
        self.supervisor_pid = os.getpid()  # in the supervisor, before the worker is spawned
        super().__init__(config, sockets)

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # runs in the worker
        _die_with_parent()
        if os.getppid() != self.supervisor_pid:  # the supervisor died before we asked to follow it
            return
        logging.basicConfig(level=logging.WARNING, format=WORKER_LOG_FORMAT)
        self.config.app = self.config.app()  # functools.partial(build_app, settings): picklable
        self.config.factory = False
        super().target(sockets)

    @property
    def server(self) -> internals.UvicornServer:
        if self._server is None:
            self._server = internals.UvicornServer(config=self.config)
        return self._server


class Supervisor(multiprocess.Multiprocess):
    """uvicorn's supervisor, with rtlab's :class:`Worker` and a warning when a worker dies."""

    def __init__(self, config, sockets, on_ready=None) -> None:
        super().__init__(config, sockets)
        self.on_ready = on_ready
        self.failed = False

    def run(self) -> None:
        # uvicorn makes its workers from the module's `Process` in four places (start, replace a
        # dead one, SIGHUP, SIGTTIN): rtlab's Worker stands in for it while this supervisor runs.
        with mock.patch.object(multiprocess, "Process", Worker):
            super().run()

    def init_processes(self) -> None:
        super().init_processes()
        for process in self.processes:
            if not process.wait_until_ready(self.config.timeout_worker_healthcheck + 30, self.should_exit):
                if not self.should_exit.is_set():
                    log.error("worker %s did not start (exit status %s)", process.pid, process.exitcode)
                    self.failed = True
                    self.should_exit.set()
                return
        if self.on_ready is not None:
            self.on_ready([p.pid for p in self.processes])

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            alive = process.process.is_alive()
            process.kill()  # hung (no answer to the health check), or already dead
            process.join()
            if self.should_exit.is_set():
                return
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker %s failed to start: stopping", process.pid)
                self.failed = True
                self.should_exit.set()
                return
            how = "did not answer its health check and was killed" if alive else _ended(process.exitcode)
            replacement = Worker(self.config, self.sockets)
            replacement.start()
            self.processes[idx] = replacement
            others = len(self.processes) - 1
            log.warning("worker %s %s; %s on, and worker %s starts in its place", process.pid, how,
                        "1 other worker goes" if others == 1 else f"{others} other workers go", replacement.pid)


def _ended(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def run(settings: Settings, sock: socket.socket, workers: int, on_ready=None, **extra) -> int:
    """Serve on ``sock`` with ``workers`` processes until SIGINT/SIGTERM; the exit status.

    ``extra`` are more uvicorn.Config arguments (``forwarded_allow_ips``)."""
    from .server import uvicorn_config

    config = uvicorn_config(functools.partial(build_app, settings), settings, log_level="warning",
                            workers=workers, factory=True, timeout_worker_healthcheck=HEALTHCHECK_TIMEOUT, **extra)
    supervisor = Supervisor(config, [sock], on_ready=on_ready)
    supervisor.run()
    return 1 if supervisor.failed else 0
