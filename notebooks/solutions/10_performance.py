# Solutions to the exercises of notebooks/10_performance.ipynb: each section is a whole exercise cell,
# solved. Try the exercise first.

# %% exercise: cpu-figure
def cpu_per_delivery(repeats: list[tuple[float, int]]) -> tuple[float | None, float | None, float | None]:
    """(µs of CPU per delivery over all repeats, lowest repeat's figure, highest repeat's figure)."""
    cpu = sum(seconds for seconds, _ in repeats)
    deliveries = sum(count for _, count in repeats)
    if deliveries == 0:
        return None, None, None
    # A repeat with deliveries has a figure, even when its CPU read 0.0: test the count, not the CPU.
    per_repeat = [seconds / count * 1e6 for seconds, count in repeats if count > 0]
    return cpu / deliveries * 1e6, min(per_repeat), max(per_repeat)


# %% exercise: bytes-per-connection
import gc
import tracemalloc


async def bytes_per_connection(server, path: str, n: int) -> float:
    """Bytes of this process's memory per idle connection, n connections to `path` of `server`."""
    tracemalloc.start()
    try:
        async with IdleClients(server.port, path) as clients:
            await clients.open(10)  # warm-up
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            await clients.open(n)
            gc.collect()
            return (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()


# %% exercise: rate-limit
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
        bucket = TokenBucket(rate, burst, time.monotonic())  # one bucket per connection
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
