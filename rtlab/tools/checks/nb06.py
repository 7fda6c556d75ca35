"""Checks of notebook 06 · Pooling: a per-user limit that holds under a race, and newest wins.

Both checks race the operation the lesson is about. Concurrent ``add`` calls run with the pool's lookup
*at its worst*, as the notebook's ``at_its_worst`` does: no lookup returns until every ``add`` of the race
has been called (bounded, so a pool that serialises its connects still goes on). A pool that checks, then
awaits, then acts lets them all through; one that checks and acts in one step (or under the user's lock)
does not. The stand-in sockets' ``close`` lets other coroutines run, as a real close may, so code that
awaits the close before changing the pool's state is raced too.
"""
from __future__ import annotations

import asyncio
import json
from collections import Counter
from contextlib import suppress

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ...server import serve
from . import NotYet, exercise, expect, expect_same_items, expect_true

REFUSED = "closed 1008 Max connections reached"
REPLACED = (1008, "Replaced by a newer connection")


class Stand:
    """A stand-in for a WebSocket: it keeps every close it is asked for; a close lets other coroutines run
    meanwhile (a real one writes a frame and may wait)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closes: list[tuple[int, str]] = []

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closes.append((code, reason))
        for _ in range(3):
            await asyncio.sleep(0)

    def __repr__(self) -> str:
        return self.name


async def quick(user: str) -> dict:
    """A lookup that returns at once (but still awaits)."""
    await asyncio.sleep(0)
    return {"name": user}


class AtItsWorst:
    """One race of ``n`` connects on ``pool``, with its lookup at its worst: no lookup returns until all
    ``n`` connects have called ``pool.add`` (for at most 5 s). Also counts the lookups of each user, and
    the most of them in flight at once."""

    def __init__(self, pool, n: int) -> None:
        self.n, self.arrived, self.all_in = n, 0, asyncio.Event()
        self.calls: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        add, lookup = pool.add, pool.lookup

        async def counted_add(user, ws):
            self.arrived += 1
            if self.arrived >= self.n:
                self.all_in.set()
            return await add(user, ws)

        async def worst_lookup(user):
            self.calls[user] += 1
            self.in_flight[user] += 1
            self.peak[user] = max(self.peak[user], self.in_flight[user])
            try:
                with suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await self.all_in.wait()
                return await lookup(user)
            finally:
                self.in_flight[user] -= 1

        pool.add, pool.lookup = counted_add, worst_lookup


class Turnstile:
    """A lookup that holds each call until the check lets it go: counts the calls in flight, and the most at once."""

    def __init__(self) -> None:
        self.held: list[asyncio.Future] = []
        self.calls = self.in_flight = self.peak = 0
        self.is_open = False

    async def lookup(self, user: str) -> dict:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if not self.is_open:
                gate = asyncio.get_running_loop().create_future()
                self.held.append(gate)
                with suppress(TimeoutError):
                    async with asyncio.timeout(5):  # bounded: a pool that never lets go still ends
                        await gate
            return {"name": user}
        finally:
            self.in_flight -= 1

    async def lookups_become(self, n: int) -> None:
        while self.calls < n:
            await asyncio.sleep(0)

    @staticmethod
    async def settle() -> None:
        """Let every coroutine that can run, run (no time passes: only the event loop's turns)."""
        for _ in range(20):
            await asyncio.sleep(0)

    def release_one(self) -> None:
        for gate in self.held:
            if not gate.done():
                gate.set_result(None)
                return

    def open(self) -> None:
        self.is_open = True
        for gate in self.held:
            if not gate.done():
                gate.set_result(None)


async def within(seconds: float, awaitable, what: str):
    """``await awaitable``, or fail with ``what`` after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise NotYet(f"{what} (no answer within {seconds:g} s)") from None


def made_with_lookup(nb, cls, limit: int, lookup):
    try:
        return cls(limit=limit, lookup=lookup)
    except TypeError as exc:
        raise NotYet(f"{cls.__name__}(limit={limit}, lookup=...) failed ({exc}): keep the __init__ the exercise "
                     "cell gives, which passes the lookup on") from None


def expect_lookup_called(probe: AtItsWorst, user: str) -> None:
    expect_true(f"add() looked {user} up with self.lookup", probe.calls[user] > 0,
                "it never called the pool's lookup: the lookup is the pool's own, self.lookup")


# -- clients --------------------------------------------------------------------------------
async def attempt(url: str):
    """Connect: (socket, first message as a dict) or (socket or None, "closed CODE REASON")."""
    try:
        ws = await connect(url, open_timeout=10)
    except Exception as exc:
        return None, f"no connection: {type(exc).__name__}: {exc}"
    try:
        return ws, json.loads(await asyncio.wait_for(ws.recv(), 10))
    except ConnectionClosed as closed:
        return ws, f"closed {closed.rcvd.code} {closed.rcvd.reason}" if closed.rcvd else "closed: no close frame"
    except TimeoutError:
        return ws, "no first message within 10 s"


async def close_of(ws, seconds: float = 5):
    """Read ws until the server closes it: (code, reason), or "still open" after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else "closed: no close frame"
    except TimeoutError:
        return "still open"


async def close_all(sockets) -> None:
    for ws in sockets:
        if ws is not None:
            with suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)


# -- exercise 1 -----------------------------------------------------------------------------
@exercise("hold-the-line", "hold the line with a lock", timeout=60,
          hint="connects of one user must go through the check, the lookup and the add one at a time, "
               "while other users' connects go on: one lock per user, taken before the check and released "
               "however add ends (sections 'A per-user limit' and 'The fix: check and act in one step')")
async def hold_the_line(nb):
    # One after the other: the limit, and one over.
    pool = made_with_lookup(nb, nb.LockedPool, 3, quick)
    got = [await within(5, pool.add("dee", Stand(f"dee{i}")), "add() one connect at a time") for i in range(4)]
    expect("add() for four connects of dee, one after the other (limit 3)", got, [True, True, True, False])
    expect("connections of dee in the pool", len(pool.of("dee")), 3)

    # Ten at once, the lookup at its worst.
    pool = made_with_lookup(nb, nb.LockedPool, 3, quick)
    probe = AtItsWorst(pool, 10)
    results = await within(30, asyncio.gather(*(pool.add("dee", Stand(f"dee{i}")) for i in range(10))),
                           "ten add() of dee at once")
    expect_lookup_called(probe, "dee")
    expect("add() that returned True, of ten connects of dee at once (limit 3)", sum(r is True for r in results), 3)
    expect("connections of dee in the pool after ten at once", len(pool.of("dee")), 3)
    expect("lookups of dee in flight at the same time (the user's connects go one at a time)", probe.peak["dee"], 1)

    # At the limit and one over, raced: two in the pool, two more at once: one gets the last place.
    pool = made_with_lookup(nb, nb.LockedPool, 3, quick)
    for i in range(2):
        await within(5, pool.add("eve", Stand(f"eve{i}")), "add() one connect at a time")
    AtItsWorst(pool, 2)
    results = await within(20, asyncio.gather(pool.add("eve", Stand("eve2")), pool.add("eve", Stand("eve3"))),
                           "two add() of eve at once")
    expect_same_items("add() for two connects of eve at once, with two in the pool (limit 3)", results, [True, False])
    expect("connections of eve in the pool", len(pool.of("eve")), 3)

    # Connects that keep coming: one ends while a second waits for it and a third arrives. Every connect
    # of the user must still go through the same lock (a lock made anew for the third lets it in beside the second).
    turnstile = Turnstile()
    pool = made_with_lookup(nb, nb.LockedPool, 3, turnstile.lookup)
    first = asyncio.ensure_future(pool.add("hal", Stand("hal0")))
    later = []
    try:
        await within(5, turnstile.lookups_become(1), "add() for hal never called self.lookup")
        later.append(asyncio.ensure_future(pool.add("hal", Stand("hal1"))))  # waits for the first
        await turnstile.settle()
        turnstile.release_one()
        expect("add() for hal's first connect", await within(5, first, "add() for hal's first connect"), True)
        later.append(asyncio.ensure_future(pool.add("hal", Stand("hal2"))))  # comes as the first has just ended
        await turnstile.settle()
        peak = turnstile.peak
        turnstile.open()
        results = await within(10, asyncio.gather(*later), "add() for hal's second and third connects")
        expect("lookups of hal in flight at the same time, when a third connect came as the first ended while "
               "the second waited", peak, 1)
        expect("add() for hal's second and third connects", list(results), [True, True])
    finally:
        turnstile.open()
        for task in [first, *later]:
            if not task.done():
                task.cancel()

    # Two users at once: one user's slow lookup must not hold another user's connect.
    gate, inside = asyncio.Event(), asyncio.Event()

    async def slow_for_sal(user):
        if user == "sal":
            inside.set()
            with suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await gate.wait()
        await asyncio.sleep(0)

    pool = made_with_lookup(nb, nb.LockedPool, 3, slow_for_sal)
    sal = asyncio.ensure_future(pool.add("sal", Stand("sal")))
    try:
        await within(5, inside.wait(), "add() for sal never called self.lookup")
        fay = await within(3, pool.add("fay", Stand("fay")),
                           "add() for fay while sal's lookup runs: fay waited for another user's connect")
        expect("add() for fay while sal's lookup runs", fay, True)
        gate.set()
        expect("add() for sal, once its lookup returned", await within(5, sal, "add() for sal"), True)
    finally:
        gate.set()
        if not sal.done():
            sal.cancel()

    # A lookup that raises must not leave the user's lock held.
    failures = ["database down"]

    async def flaky(user):
        await asyncio.sleep(0)
        if failures:
            raise ConnectionError(failures.pop())

    pool = made_with_lookup(nb, nb.LockedPool, 3, flaky)
    try:
        first = await within(5, pool.add("gus", Stand("gus0")), "add() for gus, whose lookup raises")
    except ConnectionError:
        first = "raised"
    expect_true("a connect whose lookup raised is not admitted", first in ("raised", False),
                f"add() returned {first!r}")
    second = await within(3, pool.add("gus", Stand("gus1")),
                          "gus's next connect, after a lookup that raised: the user's lock stayed held")
    expect("add() for gus's next connect", second, True)

    # Served: ten connects of each of two users at the same instant.
    pool = made_with_lookup(nb, nb.LockedPool, 3, quick)
    AtItsWorst(pool, 20)
    live = serve(nb.pool_app(pool, title="check: locked pool"))
    sockets = []
    try:
        urls = [f"{live.ws_url}/pooled/{user}" for user in ("dee", "eve") for _ in range(10)]
        outcomes = await asyncio.gather(*(attempt(url) for url in urls))
        sockets = [ws for ws, _ in outcomes]
        for k, user in enumerate(("dee", "eve")):
            mine = [o for _, o in outcomes[10 * k:10 * k + 10]]
            counts = sorted(o["active_connections"] for o in mine if isinstance(o, dict))
            expect(f"active_connections of {user}'s admitted connects, ten at once over the network", counts, [1, 2, 3])
            expect(f"what {user}'s refused connects got", sorted({o for o in mine if isinstance(o, str)}), [REFUSED])
    finally:
        await close_all(sockets)
        await asyncio.to_thread(live.stop)


# -- exercise 2 -----------------------------------------------------------------------------
@exercise("newest-wins", "newest wins", timeout=60,
          hint="at the limit nobody is closed; one over, the oldest leaves the pool and is closed once; a failed "
               "lookup changes nothing; and the "
               "pool's state must be right before any await, or concurrent connects pick the same oldest "
               "(sections 'The fix: check and act in one step' and 'A per-user limit')")
async def newest_wins(nb):
    # One after the other: at the limit nobody is closed; one over, the oldest is.
    pool = made_with_lookup(nb, nb.NewestWins, 2, quick)
    a, b, c = Stand("a"), Stand("b"), Stand("c")
    for ws in (a, b):
        expect(f"add() for {ws}", await within(5, pool.add("fay", ws), "add()"), True)
    expect("closes after two connects, at the limit of two", [a.closes, b.closes], [[], []])
    expect("add() for c, one over the limit", await within(5, pool.add("fay", c), "add()"), True)
    expect("closes of a, b, c after c's connect", [a.closes, b.closes, c.closes], [[REPLACED], [], []])
    expect("fay's connections in the pool, oldest first", pool.of("fay"), [b, c])

    # Raced: one in the pool, three more at once, the lookup at its worst, closes that let others run.
    pool = made_with_lookup(nb, nb.NewestWins, 2, quick)
    first = Stand("gil0")
    await within(5, pool.add("gil", first), "add()")
    new = [Stand(f"gil{i}") for i in range(1, 4)]
    probe = AtItsWorst(pool, 3)
    results = await within(20, asyncio.gather(*(pool.add("gil", ws) for ws in new)), "three add() of gil at once")
    expect_lookup_called(probe, "gil")
    expect("add() for three connects of gil at once", list(results), [True, True, True])
    kept = pool.of("gil")
    expect("connections of gil in the pool after three connects at once (limit 2)", len(kept), 2)
    expect_true("the pool keeps the newest connections", all(ws in new for ws in kept),
                f"the pool holds {kept}, and {first} was there before the three")
    for ws in [first, *new]:
        if ws in kept:
            expect(f"closes of {ws}, still in the pool", ws.closes, [])
        else:
            expect(f"closes of {ws}, no longer in the pool", ws.closes, [REPLACED])

    # A connect whose lookup raises changes nothing: it is not admitted, and nobody is closed for it.
    failures = ["database down"]

    async def flaky(user):
        await asyncio.sleep(0)
        if failures:
            raise ConnectionError(failures.pop())
        return {"name": user}

    pool = made_with_lookup(nb, nb.NewestWins, 2, quick)
    old = [Stand("hal0"), Stand("hal1")]
    for ws in old:
        await within(5, pool.add("hal", ws), "add()")
    pool.lookup = flaky
    newcomer = Stand("hal2")
    with suppress(ConnectionError):
        await within(5, pool.add("hal", newcomer), "add() for hal, whose lookup raises")
    expect("hal's connections in the pool after a connect whose lookup raised", pool.of("hal"), old)
    expect("closes of hal's two connections after a connect whose lookup raised", [ws.closes for ws in old], [[], []])

    # Served: the oldest learns why, the newest is admitted.
    live = serve(nb.pool_app(made_with_lookup(nb, nb.NewestWins, 2, quick), title="check: newest wins"))
    sockets = []
    try:
        oldest, _ = await attempt(live.ws_url + "/pooled/fay")
        sockets.append(oldest)
        for _ in range(2):
            ws, welcome = await attempt(live.ws_url + "/pooled/fay")
            sockets.append(ws)
        expect("the oldest's close, over the network", await close_of(oldest), REPLACED)
        expect("the newest's welcome", welcome, {"type": "connected", "active_connections": 2})
    finally:
        await close_all(sockets)
        await asyncio.to_thread(live.stop)
