# Variants of the exercises of 10_performance.ipynb: wrong solutions learners write (each must get
# "not yet") and valid ones in another style (each must get "passed"). tests/test_exercises.py runs them.

# %% wrong: cpu-figure: `if cpu:` leaves out the repeats whose CPU read 0.0 (a zero is a value)
def cpu_per_delivery(repeats: list[tuple[float, int]]) -> tuple[float | None, float | None, float | None]:
    """(µs of CPU per delivery over all repeats, lowest repeat's figure, highest repeat's figure)."""
    cpu = sum(seconds for seconds, _ in repeats)
    deliveries = sum(count for _, count in repeats)
    if not deliveries:
        return None, None, None
    per_repeat = [seconds / count * 1e6 for seconds, count in repeats if seconds and count]
    if not per_repeat:
        return cpu / deliveries * 1e6, None, None
    return cpu / deliveries * 1e6, min(per_repeat), max(per_repeat)

# %% wrong: cpu-figure: the mean of the repeats' figures instead of the total over the total
def cpu_per_delivery(repeats: list[tuple[float, int]]) -> tuple[float | None, float | None, float | None]:
    """(µs of CPU per delivery over all repeats, lowest repeat's figure, highest repeat's figure)."""
    per_repeat = [seconds / count * 1e6 for seconds, count in repeats if count > 0]
    if not per_repeat:
        return None, None, None
    return sum(per_repeat) / len(per_repeat), min(per_repeat), max(per_repeat)

# %% wrong: cpu-figure: milliseconds instead of microseconds
def cpu_per_delivery(repeats: list[tuple[float, int]]) -> tuple[float | None, float | None, float | None]:
    """(µs of CPU per delivery over all repeats, lowest repeat's figure, highest repeat's figure)."""
    cpu = sum(seconds for seconds, _ in repeats)
    deliveries = sum(count for _, count in repeats)
    if deliveries == 0:
        return None, None, None
    per_repeat = [seconds / count * 1e3 for seconds, count in repeats if count > 0]
    return cpu / deliveries * 1e3, min(per_repeat), max(per_repeat)

# %% wrong: cpu-figure: divides every repeat (ZeroDivisionError on one that delivered nothing)
def cpu_per_delivery(repeats: list[tuple[float, int]]) -> tuple[float | None, float | None, float | None]:
    """(µs of CPU per delivery over all repeats, lowest repeat's figure, highest repeat's figure)."""
    cpu = sum(seconds for seconds, _ in repeats)
    deliveries = sum(count for _, count in repeats)
    if deliveries == 0:
        return None, None, None
    per_repeat = [seconds / count * 1e6 for seconds, count in repeats]
    return cpu / deliveries * 1e6, min(per_repeat), max(per_repeat)

# %% wrong: cpu-figure: nothing delivered gives zeros rather than None
def cpu_per_delivery(repeats: list[tuple[float, int]]) -> tuple[float | None, float | None, float | None]:
    """(µs of CPU per delivery over all repeats, lowest repeat's figure, highest repeat's figure)."""
    cpu = sum(seconds for seconds, _ in repeats)
    deliveries = sum(count for _, count in repeats)
    per_repeat = [seconds / count * 1e6 for seconds, count in repeats if count > 0] or [0.0]
    return (cpu / deliveries * 1e6 if deliveries else 0.0), min(per_repeat), max(per_repeat)

# %% valid: cpu-figure: one loop that keeps the sums and the extremes, fractions of a µs kept exact
from fractions import Fraction


def cpu_per_delivery(repeats: list[tuple[float, int]]) -> tuple[float | None, float | None, float | None]:
    """(µs of CPU per delivery over all repeats, lowest repeat's figure, highest repeat's figure)."""
    total_cpu, total_count, low, high = Fraction(0), 0, None, None
    for seconds, count in repeats:
        total_cpu += Fraction(seconds)
        total_count += count
        if count:
            us = float(Fraction(seconds) / count * 1_000_000)
            low = us if low is None else min(low, us)
            high = us if high is None else max(high, us)
    if total_count == 0:
        return (None, None, None)
    return (float(total_cpu / total_count * 1_000_000), low, high)

# %% wrong: bytes-per-connection: the clients in this kernel (their sockets and protocol objects are counted too)
import gc
import tracemalloc

from websockets.asyncio.client import connect


async def bytes_per_connection(server, path: str, n: int) -> float:
    """Bytes of this process's memory per idle connection, n connections to `path` of `server`."""
    held = []
    tracemalloc.start()
    try:
        for i in range(10):
            held.append(await connect(server.ws_url + path.format(i=i)))
            await held[-1].recv()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(10, 10 + n):
            held.append(await connect(server.ws_url + path.format(i=i)))
            await held[-1].recv()
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
        for ws in held:
            await ws.close()

# %% wrong: bytes-per-connection: never stops tracemalloc
import gc
import tracemalloc


async def bytes_per_connection(server, path: str, n: int) -> float:
    """Bytes of this process's memory per idle connection, n connections to `path` of `server`."""
    tracemalloc.start()
    async with IdleClients(server.port, path) as clients:
        await clients.open(10)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        await clients.open(n)
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / n

# %% wrong: bytes-per-connection: KiB, not bytes
import gc
import tracemalloc


async def bytes_per_connection(server, path: str, n: int) -> float:
    """Bytes of this process's memory per idle connection, n connections to `path` of `server`."""
    tracemalloc.start()
    try:
        async with IdleClients(server.port, path) as clients:
            await clients.open(10)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            await clients.open(n)
            gc.collect()
            return (tracemalloc.get_traced_memory()[0] - before) / n / 1024
    finally:
        tracemalloc.stop()

# %% wrong: bytes-per-connection: the total for all n connections, not per connection
import gc
import tracemalloc


async def bytes_per_connection(server, path: str, n: int) -> float:
    """Bytes of this process's memory per idle connection, n connections to `path` of `server`."""
    tracemalloc.start()
    try:
        async with IdleClients(server.port, path) as clients:
            await clients.open(10)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            await clients.open(n)
            gc.collect()
            return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

# %% wrong: bytes-per-connection: stops tracemalloc before the second reading (which then reads 0)
import gc
import tracemalloc


async def bytes_per_connection(server, path: str, n: int) -> float:
    """Bytes of this process's memory per idle connection, n connections to `path` of `server`."""
    tracemalloc.start()
    async with IdleClients(server.port, path) as clients:
        await clients.open(10)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        await clients.open(n)
        gc.collect()
        tracemalloc.stop()
        return (tracemalloc.get_traced_memory()[0] - before) / n

# %% valid: bytes-per-connection: two snapshots and the sum of their differences
import gc
import tracemalloc


async def bytes_per_connection(server, path: str, n: int) -> float:
    """Bytes of this process's memory per idle connection, n connections to `path` of `server`."""
    tracemalloc.start()
    try:
        async with IdleClients(server.port, path) as clients:
            await clients.open(10)
            gc.collect()
            first = tracemalloc.take_snapshot()
            await clients.open(n)
            gc.collect()
            second = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in second.compare_to(first, "filename")) / n

# %% wrong: rate-limit: one bucket for the whole app (every connection shares its burst)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")
    bucket = TokenBucket(rate, burst, time.monotonic())  # made once, for every connection

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: refills without the cap (a long pause saves up more than burst)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens += (now - self.stamp) * self.rate
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: refuses the last whole token (tokens > 1: one less than burst at once)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens > 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: refills from the bucket's creation, not from the last call
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst, self.start = rate, burst, now
        self.tokens = float(burst)

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens = min(self.burst, self.tokens + (now - self.start) * self.rate)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: refills whole tokens only (fractions of a token are lost at every call)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens = min(self.burst, self.tokens + int((now - self.stamp) * self.rate))
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: closes the connection over the limit, as rtlab does after a while (it must stay open)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
                    await websocket.close(code=1008, reason="rate limit")
                    return
        except WebSocketDisconnect:
            pass

    return app

# %% valid: rate-limit: GCRA (a theoretical arrival time instead of a count of tokens), a dict of JSON replies
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.interval = 1 / rate               # seconds a token takes to come back
        self.slack = (burst - 1) * self.interval
        self.due = now                         # when the bucket would be full again

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        due = max(self.due, now)
        if due - now > self.slack + 1e-9:
            return False
        self.due = due + self.interval
        return True


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited, GCRA")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        async for text in websocket.iter_text():
            allowed = bucket.allow(time.monotonic())
            reply = {"type": "ack", "message": text} if allowed else {"detail": "rate limit", "type": "error"}
            await websocket.send_text(json.dumps(reply, separators=(",", ":")))

    return app

# %% wrong: rate-limit: one bucket per client address (two connections from one machine share it)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")
    buckets: dict[str, TokenBucket] = {}  # one per client

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        host = websocket.client.host
        bucket = buckets.setdefault(host, TokenBucket(rate, burst, time.monotonic()))
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: three refusals and the connection is closed (it must stay open however many)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        strikes = 0
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                    continue
                await websocket.send_json({"type": "error", "detail": "rate limit"})
                strikes += 1
                if strikes == 3:  # three strikes and out
                    await websocket.close(code=1008, reason="rate limit")
                    return
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: every call costs a token, refused ones too (a client that keeps trying never gets back in)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate) - 1  # every call costs one
        self.stamp = now
        return self.tokens >= 0


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: allow() reads the real clock instead of the `now` it is given
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        now = time.monotonic()  # the real clock, whatever the caller says
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% wrong: rate-limit: refills only once the bucket is empty (the time saved while it had tokens is lost)
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        if self.tokens < 1:  # refill only when empty
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        try:
            while True:
                text = await websocket.receive_text()
                if bucket.allow(time.monotonic()):
                    await websocket.send_json({"type": "ack", "message": text})
                else:
                    await websocket.send_json({"type": "error", "detail": "rate limit"})
        except WebSocketDisconnect:
            pass

    return app

# %% valid: rate-limit: whole tokens, the time of the last whole token carried over; iter_text for the loop
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up; full to start with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst, self.whole, self.since = rate, burst, burst, now

    def allow(self, now: float) -> bool:
        """Take a token and answer True, or answer False when there is none."""
        gained = int((now - self.since) * self.rate)  # whole tokens only; the rest of the time is kept
        if gained:
            self.since += gained / self.rate
            self.whole = min(self.burst, self.whole + gained)
        if self.whole == self.burst:
            self.since = now  # a full bucket saves nothing up
        if self.whole:
            self.whole -= 1
            return True
        return False


def make_limited_app(rate: float, burst: int) -> FastAPI:
    """An app whose /ws acknowledges messages as long as the connection's bucket allows."""
    app = FastAPI(title="limited")

    @app.websocket("/ws")
    async def limited(websocket: WebSocket):
        await websocket.accept()
        bucket = TokenBucket(rate, burst, time.monotonic())
        async for text in websocket.iter_text():
            ok = bucket.allow(time.monotonic())
            await websocket.send_json({"type": "ack", "message": text} if ok else
                                      {"type": "error", "detail": "rate limit"})

    return app
