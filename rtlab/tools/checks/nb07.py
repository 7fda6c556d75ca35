"""Checks of notebook 07 (Server-Sent Events): a progress stream, and announcements that can be caught up.

The replay check races a POST against the replay, for certain rather than by luck: the learner's app is
wrapped so that its response is held at its first event while the check posts an announcement. With
fastapi.sse (or a StreamingResponse) the generator is then suspended a few events into a replay of 50,
because every stage between it and the socket buffers at most one event. An app that registers its
queue only after the replay loses that announcement; one that iterates the live ``deque`` while yielding
breaks with "deque mutated during iteration".
"""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from urllib.parse import quote

import httpx
from httpx_sse import aconnect_sse

from rtlab import serve

from . import NotYet, exercise, expect, expect_true

HOLD = b"x-check-hold"  # a request header: hold this response at its first event


# -- progress ----------------------------------------------------------------------------------
@exercise("progress", "a progress stream",
          hint="the events, in order, as section 4 ('The same stream with fastapi.sse') writes them: "
               "data= is JSON, an event with no name is a 'message' event, and the interval spaces them out")
async def progress(nb):
    server = serve(nb.make_progress_app(), name="exercise-progress")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            for task, interval in (("build-7", None), ("deploy 2", 0.1)):
                path = "/progress/" + quote(task, safe="")
                params = {} if interval is None else {"interval": interval}
                start = time.monotonic()
                async with asyncio.timeout(10), aconnect_sse(client, "GET", path, params=params) as source:
                    expect_true(f"GET {path} answers 200 text/event-stream",
                                source.response.status_code == 200
                                and source.response.headers.get("content-type", "").startswith("text/event-stream"),
                                f"got {source.response.status_code} {source.response.headers.get('content-type')}")
                    events = []
                    async for e in source.aiter_sse():
                        try:
                            data = e.json()
                        except ValueError:
                            data = e.data  # shown as it came: not JSON
                        events.append((e.event, data))
                        if len(events) == 5:
                            fifth = time.monotonic()
                steps = [("message", {"task_id": task, "progress": p}) for p in (0, 25, 50, 75, 100)]
                expect(f"(event name, data) of each event of {path}", events,
                       steps + [("complete", {"task_id": task, "status": "complete"})])
                if interval is None:
                    expect_true(f"the whole of {path} (default interval 0.01 s) within 3 s",
                                time.monotonic() - start < 3, f"it took {time.monotonic() - start:.1f} s")
                else:
                    expect_true(f"the five progress events of {path}?interval=0.1 at least 0.1 s apart",
                                fifth - start >= 0.4 * 0.9, f"all five within {fifth - start:.3f} s")
        expect("errors logged by your server", server.errors(), [])
    finally:
        server.stop()


# -- replay ------------------------------------------------------------------------------------
class Held:
    """An ASGI wrapper that holds a response at its first event, for requests with the HOLD header."""

    def __init__(self, app) -> None:
        self.app = app
        self.reached = threading.Event()  # the held response has its first event ready
        self.release = threading.Event()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not any(k == HOLD for k, _ in scope.get("headers", ())):
            return await self.app(scope, receive, send)

        async def held_send(message):
            if message["type"] == "http.response.body" and message.get("body") and not self.reached.is_set():
                self.reached.set()
                await asyncio.to_thread(self.release.wait, 10)
            await send(message)

        return await self.app(scope, receive, held_send)


async def _events(events, n: int, what: str, server=None, each: float = 3.0) -> list[tuple[str, str]]:
    """The next n events of a stream's ``aiter_sse()``, as (id, data); a NotYet saying what came when fewer come."""
    got = []
    try:
        while len(got) < n:
            async with asyncio.timeout(each):
                e = await anext(events)
            got.append((e.id, e.data))
    except (TimeoutError, StopAsyncIteration, httpx.HTTPError) as stop:
        how = {TimeoutError: f"nothing more came within {each:g} s",
               StopAsyncIteration: "the stream ended"}.get(type(stop), f"the stream broke ({type(stop).__name__})")
        shown = f"; the last was {got[-1]}" if got else ""
        crash = _crash(server) if server is not None else ""
        raise NotYet(f"{what}: {len(got)} of {n} events came, then {how}{shown}{crash}") from None
    return got


async def _ends(events, what: str) -> None:
    try:
        async with asyncio.timeout(3):
            extra = [(e.id, e.data) async for e in events]
    except TimeoutError:
        raise NotYet(f"{what}: the stream did not end after its `limit` events") from None
    expect(f"{what}: events after the last one", extra, [])


def _crash(server) -> str:
    lines = [line for e in server.errors() for line in e.splitlines() if "Error" in line and ":" in line]
    return f" (your server logged: {lines[-1].strip(' |')})" if lines else ""


@exercise("replay", "announcements that can be caught up",
          hint="the order of the steps in the stream, and what the replay iterates over: section 7 "
               "('Many subscribers') registers a queue of each subscriber's own before anything can be missed, "
               "the log keeps the last 50 only, and a deque must not change under a loop that yields")
async def replay(nb):
    held = Held(nb.make_replay_app())
    server = serve(held, name="exercise-replay")
    url = server.url
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            async def post(text: str) -> dict:
                return (await client.post("/announce", params={"message": text})).json()

            def stream(last: int | None, limit: int | None, hold: bool = False):
                headers = {} if last is None else {"Last-Event-ID": str(last)}
                if hold:
                    headers[HOLD.decode()] = "1"
                return aconnect_sse(client, "GET", "/announcements", headers=headers,
                                    params={} if limit is None else {"limit": limit})

            # 1. ids, and a replay after Last-Event-ID
            answers = [await post(text) for text in ("doors open", "coffee", "talk 1", "talk 2", "lunch")]
            expect("the ids POST /announce gave (nobody listening)",
                   [(a.get("id"), a.get("delivered")) for a in answers], [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)])
            async with asyncio.timeout(10), stream(2, 3) as source:
                events = source.aiter_sse()
                expect("the stream after Last-Event-ID: 2 (limit=3)",
                       await _events(events, 3, "after Last-Event-ID: 2"),
                       [("3", "talk 1"), ("4", "talk 2"), ("5", "lunch")])
                await _ends(events, "after Last-Event-ID: 2 (limit=3)")

            # 2. without Last-Event-ID: live events only, the first one posted once the queue is there
            async with asyncio.timeout(10), stream(None, 1) as source:
                events = source.aiter_sse()
                first_event = asyncio.ensure_future(_events(events, 1, "without Last-Event-ID"))
                try:
                    async with asyncio.timeout(5):
                        while not (answer := await post("live now")).get("delivered") and not first_event.done():
                            await asyncio.sleep(0.02)
                except TimeoutError:
                    pass  # no POST reached the stream: what it sent is compared below
                async with asyncio.timeout(5):
                    got = await first_event
                expect("without Last-Event-ID, the first event (a live one, posted after the stream began)",
                       got, [(str(answer["id"]), "live now")])
                await _ends(events, "without Last-Event-ID (limit=1)")

            # 2b. two subscribers at once: each has a queue of its own, and each gets every announcement
            async with asyncio.timeout(20), stream(None, 500) as one, stream(None, 500) as two:
                readers = [one.aiter_sse(), two.aiter_sse()]
                try:
                    async with asyncio.timeout(5):
                        while (await post("are you there?")).get("delivered") != 2:
                            await asyncio.sleep(0.02)
                except TimeoutError:
                    raise NotYet("two subscribers at once: POST /announce never answered delivered=2") from None
                both = await post("for both")
                for k, events in enumerate(readers, 1):
                    got = []
                    while not got or got[-1] != (str(both["id"]), "for both"):
                        got += await _events(events, 1, f"two subscribers at once: subscriber {k}, waiting for "
                                             f"'for both' (id {both['id']}), posted once both were counted", server)

            # 3. a full log of 50, replayed while an announcement is posted mid-replay
            first = (await post("a1"))["id"]
            for i in range(2, 51):
                await post(f"a{i}")
            logged = [(str(first + i), f"a{i + 1}") for i in range(50)]
            async with asyncio.timeout(15), stream(first - 2, 52, hold=True) as source:  # id first-1 fell off the log
                events = source.aiter_sse()
                if not await asyncio.to_thread(held.reached.wait, 5):
                    raise NotYet(f"after Last-Event-ID: {first - 2}, no event came within 5 s{_crash(server)}")
                during = await post("during the replay")  # the stream's generator is a few events into the replay
                held.release.set()
                expect("subscribers reached by an announcement posted during a replay (its `delivered`)",
                       during.get("delivered"), 1)
                got = await _events(events, 51, "a replay of the 50 logged, with one posted during it", server)
                expect(f"after Last-Event-ID: {first - 2} (the log keeps the last 50, from id {first}), the 50 logged, "
                       "then the one posted during the replay",
                       got, logged + [(str(during["id"]), "during the replay")])
                after = await post("after the replay")
                expect("the next live event", await _events(events, 1, "live after the replay"),
                       [(str(after["id"]), "after the replay")])
                await _ends(events, "limit=52")

            # 4. limit's default: 10
            latest = after["id"]
            async with asyncio.timeout(10), stream(latest - 12, None) as source:
                events = source.aiter_sse()
                got = await _events(events, 10, "with no limit given")
                expect("with no limit given, the ids", [i for i, _ in got], [str(latest - 11 + k) for k in range(10)])
                await _ends(events, "with no limit given (10)")

            # 5. a subscriber that goes away mid-stream leaves no queue behind
            async with asyncio.timeout(10), stream(latest - 1, 5) as source:
                events = source.aiter_sse()
                await _events(events, 1, "a subscriber that leaves after one event")
            try:
                async with asyncio.timeout(5):
                    while (await post(f"gone? {uuid.uuid4().hex[:6]}")).get("delivered"):
                        await asyncio.sleep(0.05)
            except TimeoutError:
                raise NotYet("a subscriber that left after one event still counts in `delivered` 5 s later: "
                             "its queue was not removed") from None
        expect("errors logged by your server", server.errors(), [])
    finally:
        held.release.set()
        server.stop()
