"""Notebook 07: Server-Sent Events. The ticking streams use FastAPI's own support (``fastapi.sse``);
the fan-out streams (announcements, notifications) use :class:`EventStream`, which sends each
event's bytes, built once, to every subscriber (see :mod:`rtlab.channels` for why).

Every stream takes ``?interval=`` (seconds between events) and ``?limit=`` (end after N
events). Each stream stops its work when the client goes away (FastAPI cancels the
generator; ``finally`` blocks release subscriptions) and ends cleanly when the server shuts
down. The first event carries a short ``retry:`` so that browsers reconnect quickly.
FastAPI itself sends a ``: ping`` comment after 15 s without events.
"""
from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from .. import internals
from ..channels import Channel
from ..messages import Text, utc_now
from ..wsio import dumps
from .common import services_of

router = APIRouter()

RETRY_MS = 1000
# Each parameter gets a fresh Query/Header object: FastAPI writes the parameter's name into it,
# so one object shared by several routes (an Annotated alias) makes pydantic warn, at first use,
# from the server's thread, into whatever notebook cell happens to be running.


def Interval():  # noqa: N802 - reads like a type in signatures
    return Query(1.0, ge=0.001, le=3600, allow_inf_nan=False, description="seconds between events")


def Limit():  # noqa: N802
    return Query(None, ge=0, le=10_000_000, description="end after this many events")


def LastEventId():  # noqa: N802
    return Header(None, alias="Last-Event-ID", max_length=64)


def _closing(request: Request) -> asyncio.Event:
    return services_of(request).closing


async def ticks(request: Request, interval: float, limit: int | None, start: int = 1) -> AsyncIterator[int]:
    """1, 2, 3... every ``interval`` seconds; stops at ``limit`` events or at server shutdown."""
    closing = _closing(request)
    n, sent = start, 0
    while limit is None or sent < limit:
        if closing.is_set():
            return
        yield n
        n += 1
        sent += 1
        if limit is not None and sent >= limit:
            return
        try:
            await asyncio.wait_for(closing.wait(), interval)
            return  # shutdown began
        except TimeoutError:
            pass


@router.get("/sse", response_class=EventSourceResponse)
async def messages(request: Request, interval: float = Interval(),
                   limit: int | None = Limit()) -> AsyncIterator[ServerSentEvent]:
    """``data: Message N`` every interval."""
    async for n in ticks(request, interval, limit):
        yield ServerSentEvent(raw_data=f"Message {n}", retry=RETRY_MS if n == 1 else None)


@router.get("/sse/json", response_class=EventSourceResponse)
async def json_stream(request: Request, interval: float = Interval(),
                      limit: int | None = Limit()) -> AsyncIterator[ServerSentEvent]:
    """JSON events: ``{"timestamp", "value"}``."""
    rng = random.Random()
    async for n in ticks(request, interval, limit):
        yield ServerSentEvent(data={"timestamp": utc_now(), "value": round(rng.uniform(0, 100), 2)},
                              retry=RETRY_MS if n == 1 else None)


@router.get("/sse/events", response_class=EventSourceResponse)
async def named_events(request: Request, interval: float = Interval(),
                       limit: int | None = Limit()) -> AsyncIterator[ServerSentEvent]:
    """Named events: every 5th is ``event: milestone``; the others are plain ``Count: N``."""
    async for n in ticks(request, interval, limit):
        retry = RETRY_MS if n == 1 else None
        if n % 5 == 0:
            yield ServerSentEvent(event="milestone", raw_data=f"Reached count {n}", retry=retry)
        else:
            yield ServerSentEvent(raw_data=f"Count: {n}", retry=retry)


def next_id(last_event_id: str | None = LastEventId()) -> int:
    """The id to resume at. A dependency, so that a bad header is a 400 before the stream starts."""
    if last_event_id is None:
        return 1
    if not last_event_id.isdigit():
        raise HTTPException(400, "Last-Event-ID must be a non-negative integer")
    return int(last_event_id) + 1


@router.get("/sse/with-id", response_class=EventSourceResponse)
async def with_id(request: Request, interval: float = Interval(), limit: int | None = Limit(),
                  start: int = Depends(next_id)) -> AsyncIterator[ServerSentEvent]:
    """``id: N`` with ``data: Event N``; reconnecting with ``Last-Event-ID: K`` resumes at K+1."""
    async for n in ticks(request, interval, limit, start=start):
        yield ServerSentEvent(id=str(n), raw_data=f"Event {n}", retry=RETRY_MS if n == start else None)


@router.get("/sse/progress/{task_id}", response_class=EventSourceResponse)
async def progress(request: Request, task_id: str, interval: float = Interval(),
                   limit: int | None = Limit()) -> AsyncIterator[ServerSentEvent]:
    """Progress 0, 10, ... 100, then ``status: complete``, then the stream ends."""
    steps = [{"task_id": task_id, "progress": p} for p in range(0, 101, 10)]
    steps.append({"task_id": task_id, "status": "complete"})
    async for n in ticks(request, interval, len(steps) if limit is None else min(limit, len(steps))):
        yield ServerSentEvent(data=steps[n - 1], retry=RETRY_MS if n == 1 else None)


LEVELS = ["DEBUG", "INFO", "INFO", "INFO", "WARNING", "ERROR"]
LOG_LINES = ["request handled", "cache refreshed", "connection pool resized", "slow query", "retrying upstream",
             "health check passed"]


@router.get("/sse/logs/{service}", response_class=EventSourceResponse)
async def logs(request: Request, service: str, interval: float = Interval(),
               limit: int | None = Limit()) -> AsyncIterator[ServerSentEvent]:
    """A (simulated) log tail: ``{"service", "timestamp", "level", "message"}``."""
    rng = random.Random(service)
    async for n in ticks(request, interval, limit):
        yield ServerSentEvent(data={"service": service, "timestamp": utc_now(), "level": rng.choice(LEVELS),
                                    "message": rng.choice(LOG_LINES)}, retry=RETRY_MS if n == 1 else None)


@router.get("/sse/stock/{symbol}", response_class=EventSourceResponse)
async def stock(request: Request, symbol: str, interval: float = Interval(),
                limit: int | None = Limit()) -> AsyncIterator[ServerSentEvent]:
    """A seeded random walk of a price: ``{"symbol", "price", "change", "timestamp"}``."""
    rng = random.Random(symbol)
    price = rng.uniform(50, 500)
    async for n in ticks(request, interval, limit):
        change = round(price * rng.gauss(0, 0.01), 2)
        price = max(0.01, round(price + change, 2))
        yield ServerSentEvent(data={"symbol": symbol, "price": price, "change": change, "timestamp": utc_now()},
                              retry=RETRY_MS if n == 1 else None)


class EventStream(Response):
    """A resumable SSE stream of a :class:`~rtlab.channels.Channel`: the fan-out path.

    Plain ASGI under FastAPI's routing: every event's wire bytes were built once by the channel,
    and each wake-up sends everything queued since the last one in one chunk. It replays what a
    reconnecting client missed (``Last-Event-ID``), says ``history_lost`` when it can't, sends a
    ``: ping`` comment after :data:`~rtlab.channels.KEEPALIVE` idle seconds, stops at ``limit``
    events, and ends with a complete body when the server shuts down or drops a slow subscriber.
    """

    media_type = "text/event-stream"

    def __init__(self, channel: Channel, last_event_id: str | None, limit: int | None,
                 user: str | None = None) -> None:
        super().__init__(status_code=200)
        self.channel, self.last_event_id, self.limit, self.user = channel, last_event_id, limit, user

    async def __call__(self, scope, receive, send) -> None:
        broker = scope["app"].state.services.broker
        last_event_id = self.last_event_id
        known = int(last_event_id) if last_event_id is not None and last_event_id.isdigit() else None
        subscribed = await broker.streams.subscribe(self.channel, known, self.user)
        sub, upto, limit = subscribed.sub, subscribed.upto, self.limit
        # The client going away ends the stream at once, not at the next event or ping.
        gone = asyncio.ensure_future(_disconnected(receive))
        gone.add_done_callback(lambda _: sub.end())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            # The first event carries a short retry (browsers then reconnect after 1 s, not 3).
            sub.prefix = f"retry: {RETRY_MS}\n".encode()
            sent = 0
            if subscribed.lost or (last_event_id is not None and known is None):  # malformed: unknown too
                bounds = await broker.streams.log_bounds(self.channel)
                data = dumps({"last_event_id": last_event_id, "oldest_available": bounds.oldest,
                              "latest": bounds.latest})
                head = [sub.prefix + f"event: history_lost\ndata: {data}\n\n".encode()]
                sub.sent()
                sent = 1
            else:
                head = [b": subscribed\n\n"]  # a comment: clients see no event
            replay = subscribed.replay if limit is None else subscribed.replay[:max(0, limit - sent)]
            if replay:
                head.append(sub.frame(replay))
                sub.sent()
                sent += len(replay)
            sub.skip_upto = upto
            await send({"type": "http.response.body", "body": b"".join(head), "more_body": True})
            if limit is None:  # from now on each event goes straight to the socket where uvicorn allows
                sub.direct = internals.http_chunk_writer(send)
            while limit is None or sent < limit:
                batch = await sub.take()  # (with a direct writer: only under backpressure, or to ping)
                if batch is None:  # dropped for falling behind, or the server is shutting down
                    break
                if not batch:
                    await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})
                    continue
                if limit is not None:
                    batch = batch[:limit - sent]
                    sent += len(batch)
                data = sub.frame(batch)
                if data:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                    sub.sent()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away mid-write
            pass
        finally:
            gone.cancel()
            sub.end()
            await broker.streams.unsubscribe(self.channel, sub, self.user)


HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
           (b"x-accel-buffering", b"no")]


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@router.get("/sse/announcements", response_class=EventStream)
async def announcements(request: Request, limit: int | None = Limit(),
                        last_event_id: str | None = LastEventId()) -> EventStream:
    """Every announcement to every subscriber, in order, with ids; resumable with ``Last-Event-ID``."""
    return EventStream(services_of(request).announcements, last_event_id, limit)


class AnnounceBody(BaseModel):
    message: Text


@router.post("/announce")
async def announce(request: Request, message: Text | None = Query(None),
                   body: AnnounceBody | None = Body(None)) -> dict:
    """Send an announcement to every ``/sse/announcements`` subscriber."""
    text = message if message is not None else (body.message if body else None)
    if text is None:
        raise HTTPException(422, "give the message as ?message= or a JSON body {\"message\": ...}")
    delivered = await services_of(request).broker.streams.announce(
        {"type": "announcement", "message": text, "timestamp": utc_now()})
    return {"status": "announced", "delivered": delivered}
