"""Checks of notebook 10 (performance): a CPU figure with its spread, memory per connection, a rate limit.

Each is judged at its bounds and in its units: a repeat whose CPU reads 0.0 has a figure (0.0), a repeat
that delivered nothing has none, nothing delivered at all gives None, and figures are µs; memory is in
bytes per connection, for two numbers of connections, and tracemalloc is stopped again afterwards; the
bucket allows exactly its burst and refuses one more, refills by fractions of a token and never beyond
its burst, and each connection has a bucket of its own (two connections at once).
"""
from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlab import serve

from . import NotYet, exercise, expect, expect_true


def _rounded(figures):
    if not isinstance(figures, tuple) or len(figures) != 3:
        return figures  # shown as it came: three figures are expected
    return tuple(None if f is None else round(f, 6) for f in figures)


@exercise("cpu-figure", "a CPU figure with its spread",
          hint="the total over the total, the spread from the repeats that delivered, in µs; a zero is a value "
               "and an empty repeat has no figure (section 2, 'The benchmarks, small', and the exercise's rules)")
def cpu_figure(nb):
    figure = nb.cpu_per_delivery
    expect("repeats of different sizes", _rounded(figure([(0.25, 50_000), (0.21, 30_000), (0.30, 60_000)])),
           (5.428571, 5.0, 7.0))
    expect("the same repeats in another order", _rounded(figure([(0.30, 60_000), (0.25, 50_000), (0.21, 30_000)])),
           (5.428571, 5.0, 7.0))
    expect("one repeat, 1 s of CPU for a million deliveries (µs each)", _rounded(figure([(1.0, 1_000_000)])),
           (1.0, 1.0, 1.0))
    expect("a repeat that read 0.0 s", _rounded(figure([(0.0, 4_000), (0.01, 4_000), (0.02, 4_000)])),
           (2.5, 0.0, 5.0))
    expect("every repeat read 0.0 s", _rounded(figure([(0.0, 1_000), (0.0, 1_000)])), (0.0, 0.0, 0.0))
    expect("a repeat delivered nothing", _rounded(figure([(0.02, 0), (0.04, 8_000)])), (7.5, 5.0, 5.0))
    expect("nothing delivered at all", figure([(0.01, 0)]), (None, None, None))
    expect("nothing delivered in two repeats", figure([(0.01, 0), (0.0, 0)]), (None, None, None))


async def _reference(nb, path: str, n: int) -> float:
    """The check's own figure, measured as section 3 does: the clients in a process of their own."""
    tracemalloc.start()
    try:
        async with nb.IdleClients(nb.lab.port, path) as clients:
            await clients.open(10)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            await clients.open(n)
            gc.collect()
            return (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()


@exercise("bytes-per-connection", "memory per connection", timeout=120,
          hint="bytes, per connection, of the server alone: the clients' own objects must not be counted, "
               "so they run in a process of their own (section 3, 'Where the KiB go'), opened after a warm-up, "
               "with tracemalloc running only while you measure")
async def bytes_per_connection(nb):
    if tracemalloc.is_tracing():
        tracemalloc.stop()  # left running by an earlier try
    path = "/ws/client/{i}"
    figures = {}
    for n in (40, 120):
        per = await nb.bytes_per_connection(nb.lab, path, n)
        expect_true(f"tracemalloc is stopped again after {n} connections", not tracemalloc.is_tracing())
        expect_true(f"a number of bytes per connection, with {n} connections", isinstance(per, (int, float)),
                    f"got {per!r}")
        figures[n] = per
    for n, per in figures.items():
        expect_true(f"between 4 and 100 KiB (4,096 and 102,400 bytes) per connection with {n} connections",
                    4 * 1024 < per < 100 * 1024, f"got {per:,.0f}")
    expect_true("more connections, more memory in all", figures[120] * 120 > 2 * figures[40] * 40,
                f"{figures[40] * 40:,.0f} bytes for 40, {figures[120] * 120:,.0f} for 120")
    reference = await _reference(nb, path, 120)
    for n, per in figures.items():
        expect_true(f"with {n} connections, within 20 % of the check's own measurement ({reference:,.0f} bytes, "
                    "the clients in a process of their own)", abs(per - reference) <= 0.2 * reference,
                    f"got {per:,.0f}")


async def _replies(ws, n: int) -> list:
    got = []
    async with asyncio.timeout(5):
        for _ in range(n):
            got.append(json.loads(await ws.recv()))
    return got


@exercise("rate-limit", "a rate limit of your own",
          hint="the bucket at its bounds: full at the start, exactly `burst` at once, refilled by fractions of a "
               "token since the last call and never beyond `burst`; and one bucket per connection (section 4, "
               "'Surviving clients that misbehave')")
async def rate_limit(nb):
    bucket_class = nb.TokenBucket
    bucket = bucket_class(rate=1, burst=5, now=0.0)
    expect("8 messages at once (rate 1/s, burst 5)", [bucket.allow(0.0) for _ in range(8)], [True] * 5 + [False] * 3)
    expect("one second later, twice", [bucket.allow(1.0), bucket.allow(1.0)], [True, False])
    expect("after a long pause, 6 at once", [bucket.allow(100.0) for _ in range(6)], [True] * 5 + [False])
    half = bucket_class(rate=2, burst=1, now=10.0)
    expect("rate 2/s, burst 1: at 10.0, 10.25 (half a token), 10.5 (one), 10.5",
           [half.allow(t) for t in (10.0, 10.25, 10.5, 10.5)], [True, False, True, False])
    saving = bucket_class(rate=1, burst=5, now=0.0)
    expect("rate 1/s, burst 5: 4 at t=0 (one left), then 4 at t=2 (two gained meanwhile)",
           [saving.allow(t) for t in (0.0,) * 4 + (2.0,) * 4], [True] * 4 + [True, True, True, False])
    late = bucket_class(rate=1, burst=2, now=1_000.0)
    expect("a bucket made at t=1000, full: 3 at once", [late.allow(1_000.0) for _ in range(3)], [True, True, False])

    server = serve(nb.make_limited_app(rate=0.01, burst=3), name="exercise-limited")  # no refill during the check
    ack = [{"type": "ack", "message": f"m{i}"} for i in range(3)]
    refused = {"type": "error", "detail": "rate limit"}
    try:
        async with asyncio.timeout(15), connect(server.ws_url + "/ws") as first, \
                connect(server.ws_url + "/ws") as second:
            for i in range(5):
                await first.send(f"m{i}")
            expect("answers to 5 messages at once on one connection (burst 3)", await _replies(first, 5),
                   ack + [refused, refused])
            for i in range(4):
                await second.send(f"m{i}")
            expect("answers to 4 messages on a second connection, open at the same time (a bucket of its own)",
                   await _replies(second, 4), ack + [refused])
            for i in range(5, 15):
                await first.send(f"m{i}")
            expect("ten more on the first connection (it stays open, however many are refused)",
                   await _replies(first, 10), [refused] * 10)
            try:
                async with asyncio.timeout(5):
                    await (await first.ping())
            except ConnectionClosed as closed:
                raise NotYet(f"the first connection, after 12 refusals: your server closed it ({closed}); it must "
                             "stay open") from None
        expect("errors logged by your server", server.errors(), [])
    finally:
        server.stop()
