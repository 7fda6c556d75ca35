"""The SSE benchmark's comparison servers: the smallest announcement app each library allows.

``python -m rtlab.bench.sse_servers {fastapi,starlette}`` serves, on a free loopback port (the
first line it prints says which):

* ``GET /sse/announcements`` — an endless event stream: a ``: subscribed`` comment once the
  subscriber is registered, then every announcement, with its id;
* ``POST /announce?message=M`` — ``{"type": "announcement", "message": M, "timestamp": ...}``
  to every subscriber, serialized once, as rtlab's ``/announce`` does.

``fastapi`` answers with FastAPI's own ``fastapi.sse.EventSourceResponse``; ``starlette`` with
sse-starlette's ``EventSourceResponse``. Both are what the libraries' documentation shows: one
``asyncio.Queue`` per subscriber, unbounded (a subscriber that falls behind costs memory, never
events), and nothing else. rtlab's ``/sse/announcements`` adds ids in a bounded log for
``Last-Event-ID`` and a bounded queue per subscriber.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI


class Announcements:
    """One unbounded queue per subscriber; each announcement serialized once for all of them."""

    def __init__(self) -> None:
        self.subscribers: set[asyncio.Queue] = set()
        self.next_id = 1

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.discard(queue)

    def publish(self, message: str) -> int:
        event = (str(self.next_id), json.dumps({"type": "announcement", "message": message,
                                                "timestamp": datetime.now(UTC).isoformat()},
                                               separators=(",", ":")))
        self.next_id += 1
        for queue in self.subscribers:
            queue.put_nowait(event)
        return len(self.subscribers)


def fastapi_app() -> FastAPI:
    """Announcements with ``fastapi.sse``."""
    from fastapi.sse import EventSourceResponse, ServerSentEvent

    app = FastAPI()
    hub = Announcements()

    @app.get("/sse/announcements", response_class=EventSourceResponse)
    async def stream():
        queue = hub.subscribe()
        try:
            yield ServerSentEvent(comment="subscribed")
            while True:
                event_id, data = await queue.get()
                yield ServerSentEvent(id=event_id, raw_data=data)
        finally:
            hub.unsubscribe(queue)

    @app.post("/announce")
    async def announce(message: str) -> dict:
        return {"status": "announced", "delivered": hub.publish(message)}

    return app


def starlette_app() -> FastAPI:
    """Announcements with sse-starlette."""
    from sse_starlette import EventSourceResponse, ServerSentEvent

    app = FastAPI()
    hub = Announcements()

    @app.get("/sse/announcements")
    async def stream() -> EventSourceResponse:
        async def events():
            queue = hub.subscribe()
            try:
                yield ServerSentEvent(comment="subscribed")
                while True:
                    event_id, data = await queue.get()
                    yield ServerSentEvent(id=event_id, data=data)
            finally:
                hub.unsubscribe(queue)

        return EventSourceResponse(events())

    @app.post("/announce")
    async def announce(message: str) -> dict:
        return {"status": "announced", "delivered": hub.publish(message)}

    return app


APPS = {"fastapi": fastapi_app, "starlette": starlette_app}


def listen() -> socket.socket:
    """A loopback socket on a free port whose accepted connections get ``TCP_NODELAY`` (asyncio
    sets it only when the listening socket's protocol is TCP): keep-alive POSTs would otherwise
    wait about 40 ms each for Nagle and delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rtlab.bench.sse_servers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", choices=sorted(APPS))
    args = parser.parse_args(argv)
    sock = listen()
    config = uvicorn.Config(APPS[args.app](), log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    print(f"{args.app} serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    try:
        with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
            runner.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
