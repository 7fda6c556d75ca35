"""Checks of notebook 12: a stream that ends on shutdown, and a blocking call moved off the event loop.

Each check runs the learner's app file as the notebook does: ``uvicorn MODULE:app`` in a process of
its own (its own process group, in the notebook's apps folder), with real clients, and kills the
process group when it is done, whatever happened.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from . import NotYet, exercise, expect, expect_true

STUB = re.compile(r"NotImplementedError\(\s*(['\"])(your turn.*?)\1\s*\)", re.S)
STARTED = ("Application startup complete.", "Uvicorn running on")  # the app has started; the port is bound


def _source(apps: str | Path, name: str) -> Path:
    """The learner's app file; the stub's own words while it is still the stub."""
    path = Path(apps) / name
    if not path.exists():
        raise NotYet(f"there is no {name} in the apps folder yet: run the exercise's cell first")
    if match := STUB.search(path.read_text(encoding="utf-8")):
        raise NotImplementedError(match.group(2))
    return path


class Uvicorn:
    """``uvicorn APP --port P`` in the apps folder, as a process group of its own; its log kept."""

    def __init__(self, app: str, cwd: Path) -> None:
        self.app, self.cwd, self.lines, self.url, self.ws_url = app, cwd, [], "", ""
        self.changed = threading.Condition()
        self.proc: subprocess.Popen | None = None

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    async def __aenter__(self) -> "Uvicorn":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.app, "--port", "0"], cwd=self.cwd, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

        def started() -> bool:
            return all(any(text in line for line in self.lines) for text in STARTED)

        def wait() -> None:
            with self.changed:
                self.changed.wait_for(lambda: started() or self.proc.poll() is not None, 15)
        await asyncio.to_thread(wait)
        if not started():
            last = next((line for line in reversed(self.lines) if line.strip()), "nothing")
            await self.__aexit__()
            raise NotYet(f"`uvicorn {self.app}` did not start; the last line of its log: {last}")
        running = next(line for line in self.lines if STARTED[1] in line)  # the port the kernel picked
        port = re.search(r"127\.0\.0\.1:(\d+)", running).group(1)
        self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:  # still ours: once reaped, its number may be another program's
                os.killpg(self.proc.pid, signal.SIGKILL)
            await asyncio.to_thread(self.proc.wait, 5)

    async def exited(self, timeout: float) -> int | None:
        try:
            return await asyncio.to_thread(self.proc.wait, max(timeout, 0))
        except subprocess.TimeoutExpired:
            return None


# -- 1. a stream that ends on shutdown ----------------------------------------------------------
BOUND = 3.0  # seconds from SIGTERM to a complete body on every stream, and the process gone


async def _read_events(events, n: int) -> list:
    async with asyncio.timeout(5):
        return [await anext(events) for _ in range(n)]


async def _rest(events) -> list:
    """The events up to the end of the body; TimeoutError or httpx.RemoteProtocolError otherwise."""
    return [event async for event in events]


@exercise("end-on-shutdown", "a stream that ends on shutdown",
          hint="the app must learn of SIGTERM when it arrives, not when uvicorn's shutdown is over, and "
               "uvicorn's own handling of the signal must still happen (section 'How does an app know "
               "that shutdown began?')", timeout=30)
async def end_on_shutdown(nb):
    _source(nb.apps, "ticker.py")
    async with Uvicorn("ticker:app", Path(nb.apps)) as server, httpx.AsyncClient(timeout=10) as client, \
            contextlib.AsyncExitStack() as stack:
        sources = [await stack.enter_async_context(aconnect_sse(client, "GET", server.url + "/ticks"))
                   for _ in range(2)]
        streams = [source.aiter_sse() for source in sources]
        opened = time.monotonic()
        try:
            firsts = await asyncio.gather(*(_read_events(events, 3) for events in streams))
        except StopAsyncIteration:
            raise NotYet("a stream ended before SIGTERM: it must go on while the server runs") from None
        except TimeoutError:
            raise NotYet("no three events on /ticks within 5 s") from None
        for got in firsts:
            expect("the first events' data", [e.data for e in got], ["tick 0", "tick 1", "tick 2"])
        took = time.monotonic() - opened  # two pauses of 0.2 s at least; a machine's load only adds to it
        expect_true("three ticks take two pauses of 0.2 s", took >= 0.3, f"they came within {took:.2f} s")
        server.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            async with asyncio.timeout(BOUND):
                rests = await asyncio.gather(*(_rest(events) for events in streams))
        except TimeoutError:
            waiting = any("Waiting for connections to close" in line for line in server.lines)
            raise NotYet(f"{BOUND:g} s after SIGTERM the streams were still open"
                         + (": uvicorn logged 'Waiting for connections to close'" if waiting else "")) from None
        except httpx.RemoteProtocolError as cut:
            raise NotYet(f"a stream was cut instead of ending: {cut}") from None
        for first, rest in zip(firsts, rests):
            events = first + rest
            expect_true("the stream's last event is named 'bye'", bool(rest) and rest[-1].event == "bye",
                        f"its last event: {rest[-1].event!r} with data {rest[-1].data!r}" if rest
                        else "no event came after SIGTERM")
            ticks = [e.data for e in events[:-1]]
            expect("the ticks before 'bye'", ticks, [f"tick {i}" for i in range(len(ticks))])
        status = await server.exited(BOUND - (time.monotonic() - signalled))
        expect_true(f"the process exits within {BOUND:g} s of SIGTERM", status is not None,
                    "the streams ended, but the server still ran: uvicorn never began its own shutdown")


# -- 2. off the loop ------------------------------------------------------------------------------
ANSWERED = 30  # echoes a third client must get back while the reports are made (about a second). A loop
# held by the reports answers 1 to 3 of them (one at a time, each waiting out a report); a free loop hundreds,
# about one a millisecond, and still far more than 30 on a loaded machine, whose odd spike counts for one echo.


async def _echo_until(ws, done: asyncio.Future) -> list[float]:
    times = []
    while not done.done():
        start = time.perf_counter()
        await ws.send("ping")
        async with asyncio.timeout(10):
            await ws.recv()
        times.append(time.perf_counter() - start)
    return times


@exercise("off-the-loop", "off the loop",
          hint="while one connection's report is being made, the process's event loop must stay free for "
               "the others: the blocking call has to run somewhere else (section 'Blocking the event loop')",
          timeout=30)
async def off_the_loop(nb):
    _source(nb.apps, "reports.py")
    async with Uvicorn("reports:app", Path(nb.apps)) as server, connect(server.ws_url + "/echo") as echo, \
            connect(server.ws_url + "/report") as north, connect(server.ws_url + "/report") as south:
        await echo.send("warm up")
        async with asyncio.timeout(5):
            await echo.recv()
        await north.send("north")
        await south.send("south")

        async def answers():
            async with asyncio.timeout(10):
                return await asyncio.gather(north.recv(), south.recv())
        reports = asyncio.ensure_future(answers())
        try:
            times = await _echo_until(echo, reports)
        finally:
            with contextlib.suppress(BaseException):
                await reports
        try:
            got = reports.result()
        except TimeoutError:
            raise NotYet("no report came back within 10 s") from None
        except Exception as failure:
            raise NotYet(f"a report socket failed: {type(failure).__name__}: {failure}") from None
        expect("the reports, on their own sockets", list(got), ["report north: 42 rows", "report south: 42 rows"])
        expect_true(f"a third client's echoes went on while two reports were made: at least {ANSWERED}",
                    len(times) >= ANSWERED,
                    f"{len(times)} came back, the slowest after {max(times):.2f} s")
        await north.send("east")
        try:
            async with asyncio.timeout(5):
                again = await north.recv()
        except (ConnectionClosed, TimeoutError) as failure:
            raise NotYet(f"a second name on the same socket got no report: {failure or 'no answer in 5 s'}") from None
        expect("a second report on the same socket", again, "report east: 42 rows")
