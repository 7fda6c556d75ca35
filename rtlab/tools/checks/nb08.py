"""Checks of notebook 08 (real-time apps): a ticker with subscriptions, and transforming an insert.

The ticker is judged on what the lesson is about: ticks keep their cadence while the client is silent
*and* while it talks, prices follow each symbol's walk from its subscription on, and the endpoint ends as
soon as its client leaves (the learner's app is wrapped, so the check sees when the endpoint returns),
not one interval later. The transform is judged on every pair of positions of a short text, both ends
and ties included, in both orders: each side must end with the same text, holding both inserts where
their authors put them.
"""
from __future__ import annotations

import asyncio
import copy
import json
import threading
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlab import serve

from . import NotYet, exercise, expect, expect_true


# -- ticker ------------------------------------------------------------------------------------
class Lifetimes:
    """An ASGI wrapper that notes when each WebSocket endpoint call returns."""

    def __init__(self, app) -> None:
        self.app = app
        self.ended = threading.Event()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        try:
            return await self.app(scope, receive, send)
        finally:
            self.ended.set()


async def _tick(ws, seconds: float = 2.0) -> dict:
    try:
        async with asyncio.timeout(seconds):
            message = json.loads(await ws.recv())
    except TimeoutError:
        raise NotYet(f"no tick within {seconds:g} s while the client waited") from None
    if not isinstance(message, dict) or not isinstance(message.get("prices"), dict):
        raise NotYet(f"a tick is {{'prices': {{SYMBOL: PRICE, ...}}}}: got {message!r}")
    return message["prices"]


async def _until(ws, want: set, seconds: float = 5.0) -> list[dict]:
    """Ticks up to (and including) the first that lists exactly the symbols `want`."""
    seen = []
    try:
        async with asyncio.timeout(seconds):
            while not seen or set(seen[-1]) != want:
                seen.append(await _tick(ws))
    except TimeoutError:
        raise NotYet(f"no tick listed the symbols {sorted(want)} within {seconds:g} s; the last one was "
                     f"{seen[-1] if seen else None}") from None
    return seen


@exercise("ticker", "a ticker with subscriptions", timeout=40,
          hint="waiting by reading, with a deadline at the next tick, as push_every does (section 2, 'A live "
               "dashboard'): ticks keep their cadence whatever the client says, and a close is seen at once")
async def ticker(nb):
    walk = nb.random_walk
    app = Lifetimes(nb.make_ticker_app())
    server = serve(app, name="exercise-ticker")
    try:
        async with asyncio.timeout(30):
            await _ticker_session(app, server, walk)
        expect("errors logged by your server", server.errors(), [])
    except ConnectionClosed as closed:
        lines = [line for e in server.errors() for line in e.splitlines() if "Error" in line and ":" in line]
        crash = f"; your server logged: {lines[-1].strip(' |')}" if lines else ""
        raise NotYet(f"the connection closed while the check talked to it ({closed}){crash}") from None
    finally:
        server.stop()


async def _ticker_session(app, server, walk) -> None:
    async with connect(server.ws_url + "/ws/ticker?interval=0.05") as ws:
        expect("the first three ticks, before any subscription", [await _tick(ws) for _ in range(3)],
               [{}, {}, {}])
        await ws.send(json.dumps({"subscribe": "ACME"}))
        acme = [(await _until(ws, {"ACME"}))[-1]] + [await _tick(ws) for _ in range(4)]
        steps = walk("ACME")
        expect("ACME's prices in five ticks from its subscription on", [t.get("ACME") for t in acme],
               [steps()["price"] for _ in range(5)])
        await ws.send(json.dumps({"subscribe": "GLOBEX"}))
        both = (await _until(ws, {"ACME", "GLOBEX"}))[-1]
        expect("GLOBEX's first price", both["GLOBEX"], walk("GLOBEX")()["price"])

        ticks = []  # a client that talks all the time: every 10 ms, for a second

        async def read() -> None:
            while True:
                ticks.append(await _tick(ws))

        reader = asyncio.ensure_future(read())
        try:
            for _ in range(100):
                await ws.send(json.dumps({"unsubscribe": "NOPE"}))  # never subscribed: changes nothing
                await asyncio.sleep(0.01)
        finally:
            reader.cancel()
            try:
                await reader  # what it raised, if it failed before being cancelled
            except asyncio.CancelledError:
                pass
        expect_true("ticks while the client sent a message every 10 ms for 1 s (interval 0.05 s)",
                    len(ticks) >= 5, f"{len(ticks)} ticks came")
        expect("the symbols of the last of those ticks", set(ticks[-1]), {"ACME", "GLOBEX"})
        await ws.send(json.dumps({"unsubscribe": "ACME"}))
        await _until(ws, {"GLOBEX"})
    if not await asyncio.to_thread(app.ended.wait, 5):
        raise NotYet("the endpoint did not end within 5 s of its client leaving")
    app.ended.clear()
    async with connect(server.ws_url + "/ws/ticker?interval=3") as slow:
        await _tick(slow, 5)
    left = time.monotonic()
    if not await asyncio.to_thread(app.ended.wait, 1.5):
        raise NotYet("with ?interval=3, the endpoint was still running 1.5 s after its client left")
    expect_true("with ?interval=3, the endpoint ended soon after its client left",
                time.monotonic() - left < 1.5)


# -- transform-insert ----------------------------------------------------------------------------
def _apply(text: str, op: dict) -> str:
    return text[:op["pos"]] + op["text"] + text[op["pos"]:]


def _both(base: str, a: dict, b: dict, a_first: bool) -> str:
    """The text with both inserts, made on `base`; on a tie, a_first puts a's text in front."""
    if a["pos"] < b["pos"] or (a["pos"] == b["pos"] and a_first):
        return _apply(_apply(base, b), a)  # b is further right: inserting it first leaves a's position alone
    return _apply(_apply(base, a), b)


@exercise("transform-insert", "transforming an insert",
          hint="which inserts move and which stay, above all at the same position: section 4 ('Operational "
               "transformation keeps both') shifts a position over text inserted before it, and both sides "
               "of a tie must make opposite choices")
def transform_insert(nb):
    transform = nb.transform_insert
    at_10, team = {"pos": 24, "text": " at 10"}, {"pos": 4, "text": "team "}
    expect("' at 10' over 'team ' (inserted before it)", transform(at_10, team, True), {"pos": 29, "text": " at 10"})
    expect("'team ' over ' at 10' (inserted after it)", transform(team, at_10, False), team)
    big, long = {"pos": 4, "text": "big "}, {"pos": 4, "text": "long "}
    expect("a tie, op first", transform(big, long, True), big)
    expect("a tie, op second", transform(big, long, False), {"pos": 9, "text": "big "})
    word = "abcd"
    for p in range(len(word) + 1):          # every position, both ends included
        for q in range(len(word) + 1):
            for a_first in (True, False):
                a, b = {"pos": p, "text": "X"}, {"pos": q, "text": "YZ"}
                a0, b0 = copy.deepcopy(a), copy.deepcopy(b)
                moved_a, moved_b = transform(a, b, a_first), transform(b, a, not a_first)
                tie = f", {'X' if a_first else 'YZ'} first" if p == q else ""
                case = f"'X' at {p} and 'YZ' at {q} in {word!r}{tie}"
                expect(f"{case}: the arguments afterwards", (a, b), (a0, b0))
                expect_true(f"{case}: a new dict is returned", moved_a is not a and moved_b is not b)
                expect(f"{case}: the text on each side (YZ then X moved, X then YZ moved)",
                       (_apply(_apply(word, b), moved_a), _apply(_apply(word, a), moved_b)),
                       (_both(word, a, b, a_first),) * 2)
