"""Run the rtlab app with uvicorn: in a background thread (notebooks, tests) or in the foreground (CLI).

What is known to break, and how this module avoids it:

* ``uvicorn.Server.run()`` calls ``asyncio.run(..., loop_factory=...)``, which fails on
  Python 3.12+ once ``nest_asyncio.apply()`` has patched ``asyncio.run``. The thread drives
  ``Server.serve()`` under its own ``asyncio.Runner`` with a plain new event loop instead.
* A ``uvicorn.Server`` cannot be started twice: every start makes a new one.
* On a bind failure uvicorn calls ``sys.exit()`` inside the thread, which ends the thread
  silently. Readiness therefore watches ``thread.is_alive()`` as well as ``server.started``.
* Open WebSocket and SSE connections hold a graceful shutdown: the app is told that shutdown
  has begun (its streams end cleanly) and uvicorn gets a short ``timeout_graceful_shutdown``.
* A learner's app (``serve(app)``) runs on stock uvicorn: ``uvicorn.Server`` with uvicorn's own
  defaults and protocol classes, as ``uvicorn module:app`` runs it (16 MiB messages, pings every
  20 s, no graceful-shutdown timeout). rtlab's own app runs on its tuned settings and protocol
  (:func:`uvicorn_config`, :mod:`rtlab.internals`). Only the address and the logging are the lab's.
* Log records from the server thread would land in whichever notebook cell is running:
  they are captured in memory instead (``lab.logs()``), and so are warnings raised in a server
  thread (``warnings.showwarning`` is wrapped once: other threads' warnings are shown as before).
"""
from __future__ import annotations

import asyncio
import atexit
import collections
import itertools
import logging
import threading
import time
import warnings
import weakref
from typing import Any

import uvicorn

from . import internals
from .app import create_app
from .settings import Settings, with_overrides

__all__ = ["LabServer", "ServerStartError", "serve"]

_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "rtlab")


class ServerStartError(RuntimeError):
    """The server did not come up: the message says why (port taken, broker unreachable...)."""


class _LogBuffer(logging.Handler):
    """Keeps the last records in memory, so that server threads print nothing."""

    def __init__(self, size: int = 5000) -> None:
        super().__init__(logging.INFO)
        # (thread id, line): each server runs in a thread of its own, so its lines can be told apart.
        self.records: collections.deque[tuple[int, str]] = collections.deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # uvicorn's console hint means nothing for a server in a thread
            line = self.format(record).replace(" (Press CTRL+C to quit)", "")
            self.records.append((record.threadName, line))
        except Exception:  # a handler must never raise into the server
            self.handleError(record)

    def lines(self, thread: str | None = None, since: int = 0) -> list[str]:
        return [line for t, line in list(self.records)[since:] if thread is None or t == thread]


_buffer = _LogBuffer()
THREAD_PREFIX = "rtlab-server-"
_thread_numbers = itertools.count(1)  # a name per server thread: OS thread ids are reused


_original_showwarning = warnings.showwarning


def _showwarning(message, category, filename, lineno, file=None, line=None):
    """Warnings raised in a server thread go to the log buffer, not into a notebook cell's stderr."""
    if threading.current_thread().name.startswith(THREAD_PREFIX):
        logging.getLogger("rtlab").warning("%s: %s", category.__name__, message)
    else:
        _original_showwarning(message, category, filename, lineno, file, line)


def capture_logs() -> _LogBuffer:
    """Route the server's loggers (and its threads' warnings) into the in-memory buffer (idempotent)."""
    if warnings.showwarning is not _showwarning:
        warnings.showwarning = _showwarning
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _buffer not in logger.handlers:
            logger.addHandler(_buffer)
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
    return _buffer


def uvicorn_config(app, settings: Settings, **extra: Any) -> uvicorn.Config:
    """One place for the uvicorn options of every way of running the lab."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws=internals.ws_protocol(settings.ws_protocol),
        # uvicorn's protocol layer refuses a larger message before buffering it (close 1009),
        # instead of its 16 MiB default; the app checks the same limit under any server.
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_timeout,
        ws_per_message_deflate=settings.per_message_deflate,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        lifespan="on",
        log_config=None,
        access_log=False,
        **extra,
    )


def learner_config(app, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's own defaults for a learner's app, as ``uvicorn module:app`` (or ``uvicorn.run(app)``)
    gives them; ``options`` are ``uvicorn.Config`` arguments (``ws_ping_interval=5``...). Only the
    address and the logging (into the lab's buffer, not the cell) are set here."""
    options.setdefault("log_config", None)
    return uvicorn.Config(app, host=host, port=port, **options)


_running: "weakref.WeakSet[LabServer]" = weakref.WeakSet()


class LabServer:
    """An rtlab server in a daemon thread of this process.

    ``start()`` returns once it accepts connections; ``stop()`` closes every connection with
    a close frame and ends every stream cleanly. Also a context manager.
    """

    def __init__(self, settings: Settings | None = None, *, app=None, name: str | None = None,
                 uvicorn_options: dict[str, Any] | None = None, **overrides: Any) -> None:
        capture_logs()
        self._name = name
        self._uvicorn_options = dict(uvicorn_options or {})  # a learner's app: uvicorn.Config arguments
        self.settings = with_overrides(settings, **overrides)
        self._given_app = app  # a learner's own ASGI app; None runs rtlab's
        self.app = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._log_thread: str | None = None  # this server's thread name: its log lines

    # -- addresses -------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.port}"

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive() and self._server and self._server.started)

    @property
    def services(self):
        """The app's services (hub, notifications, metrics...), for inspection in notebooks."""
        return self.app.state.services

    def stats(self) -> dict[str, int]:
        """What the hub and the SSE channels have counted so far: connections accepted, refused
        (over a limit), removed, dropped as too slow (WebSocket and SSE), messages in and out; the
        SSE subscriptions open now (``sse_subscriptions``, announcements and notifications); and the
        messages this process took from the broker's bus (``bus_received``) and those that reached
        none of its clients (``bus_dropped``): 0 with the memory broker."""
        services = self.services
        metrics = services.hub.metrics
        sse_dropped = services.announcements.dropped + sum(ch.dropped for ch in services.notifier.channels.values())
        return {"accepted": metrics.accepted, "refused": metrics.refused, "removed": metrics.removed,
                "dropped_slow": metrics.dropped_slow, "sse_dropped": sse_dropped,
                "messages_in": metrics.messages_in, "messages_out": metrics.messages_out,
                "sse_subscriptions": len(services.subscriptions), **services.broker.counts()}

    def errors(self) -> list[str]:
        """This server's ERROR log records, each with its traceback: what an endpoint raised."""
        return [r for r in _buffer.lines(self._log_thread) if r.startswith(("ERROR", "CRITICAL"))]

    # -- lifecycle -------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> "LabServer":
        if self.running:
            return self
        capture_logs()
        mark = len(_buffer.records)
        if self._given_app is not None:  # stock uvicorn, as the learner's app will run in production
            self.app = self._given_app
            server = uvicorn.Server(learner_config(self.app, self.settings.host, self.settings.port,
                                                   **self._uvicorn_options))
        else:
            self.app = create_app(self.settings)
            server = internals.UvicornServer(uvicorn_config(self.app, self.settings))
        thread = threading.Thread(target=self._run, args=(server,), name=f"{THREAD_PREFIX}{next(_thread_numbers)}",
                                  daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise ServerStartError(self._why_not_started(mark))
            if time.monotonic() > deadline:
                self._stop_thread()
                raise ServerStartError(f"rtlab did not start within {timeout:g} s")
            thread.join(0.005)
        self._port = server.servers[0].sockets[0].getsockname()[1]
        self._log_thread = thread.name
        _running.add(self)
        return self

    @staticmethod
    def _run(server: uvicorn.Server) -> None:
        try:
            with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
                runner.run(server.serve())
        except SystemExit:  # uvicorn's answer to a bind or startup failure; it logged why
            pass

    def _why_not_started(self, mark: int) -> str:
        errors = [r for r in _buffer.lines(self._thread.name, mark) if r.startswith(("ERROR", "CRITICAL"))]
        where = f"{self.settings.host}:{self.settings.port}"
        ours = [r for r in errors if r.startswith("ERROR rtlab")]  # our own words first
        if ours or errors:
            detail = (ours or errors)[-1].split(": ", 1)[-1]
            return f"rtlab could not start on {where}: {detail}"
        return f"rtlab could not start on {where} (see lab.logs())"

    def stop(self, timeout: float | None = None) -> None:
        if self._server is None:
            return
        self._stop_thread(timeout)
        _running.discard(self)
        self._port = None

    def _stop_thread(self, timeout: float | None = None) -> None:
        server, thread = self._server, self._thread
        if timeout is None:
            timeout = self.settings.shutdown_timeout + 3
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = None

    def logs(self, last: int = 50) -> str:
        """This server's recent log lines (they are kept in memory, not printed)."""
        return "\n".join(_buffer.lines(self._log_thread)[-last:])

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:  # no port: it varies from run to run
        state = "running" if self.running else "stopped"
        if self._given_app is not None:
            return f"<server of {self.name!r} {state}>"
        broker = self.settings.broker.split(":", 1)[0]  # "memory" or "redis": no address, no port
        return f"<rtlab server {state}, broker={broker}>"

    @property
    def name(self) -> str:
        if self._given_app is None:
            return "rtlab"
        return self._name or _app_name(self._given_app)


_default: LabServer | None = None
_default_lock = threading.Lock()
_apps: dict[str, LabServer] = {}  # a learner's apps by name: serving one again replaces it


def _app_name(app) -> str:
    title = getattr(app, "title", None)
    return title if isinstance(title, str) and title else type(app).__name__


def serve(app=None, *, name: str | None = None, **overrides: Any) -> LabServer:
    """Start a server in a background thread of this process; returns once it accepts connections.

    ``serve()`` runs rtlab's own app, or returns the one already running (keyword arguments
    override settings: ``port``, ``broker``, ``max_connections_per_user``...).

    ``serve(app)`` runs *your* ASGI app (a FastAPI app defined in a notebook cell) on stock uvicorn,
    with uvicorn's own defaults, as ``uvicorn module:app`` would: keyword arguments are then
    ``uvicorn.Config`` arguments (``ws_ping_interval=None``, ``timeout_graceful_shutdown=2``...). It
    runs on a free port (``port=`` picks one), with the same ``.url``, ``.ws_url``, ``.logs()``,
    ``.errors()`` and ``.stop()``; ``.stop()`` waits for open connections as uvicorn does, then
    forces them closed after a few seconds.
    Apps are told apart by ``name`` (default: the app's ``title``): serving an app under a name
    already served stops the previous server first, so re-running a cell never leaves a second
    server behind. What an endpoint raises is in ``.errors()`` with its traceback.
    """
    if app is not None:
        key = name or _app_name(app)
        with _default_lock:
            old = _apps.pop(key, None)
            if old is not None:
                old.stop()
            port = overrides.pop("port", 0)
            server = LabServer(app=app, name=key, port=port, uvicorn_options=overrides)
            server.start()
            _apps[key] = server
            return server
    global _default
    with _default_lock:
        if _default is not None and _default.running:
            wanted = with_overrides(_default.settings, **overrides)
            if wanted != _default.settings:
                raise RuntimeError("a server with other settings is running: call lab.stop() first")
            return _default
        _default = LabServer(**overrides).start()
        return _default


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop(timeout=2)
