"""Checks of notebook 00 (start here): a first client, a refused handshake, a wait that ends."""
from __future__ import annotations

import asyncio
import time

import psutil
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

from . import exercise, expect, expect_true


# -- helpers shared by the checks of notebooks 00 to 03 -----------------------------------------------
def client_sockets(port: int) -> int:
    """How many TCP connections this process holds open *to* ``port``, as a client (the server's own
    side of them is not counted: its local port is ``port``)."""
    return sum(1 for c in psutil.Process().net_connections(kind="tcp")
               if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)


async def no_client_left(port: int, what: str, before: int = 0) -> None:
    """Fail unless the connections a learner's function opened to ``port`` are closed once it returned.
    (A closed connection leaves ESTABLISHED at once; a second is allowed for the server's side of a close
    that is still under way.)"""
    deadline = time.monotonic() + 1.0
    while (left := client_sockets(port) - before) > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    expect_true(f"{what}: the connection is closed when the function returns", left <= 0,
                f"{left} connection(s) to the server still open")


def check_app(title: str) -> FastAPI:
    return FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)


# -- 1. welcome -------------------------------------------------------------------------------------
@exercise("welcome", "a welcome of your own",
          hint="the first message the server sends on /ws/client/{client_id}, with the connection closed "
               "when the function returns ('A tour of the lab', and the async with of 'The asyncio you need')")
async def welcome(nb):
    lab = nb.lab
    before = client_sockets(lab.port)
    for client_id in (7, 2024, 0):
        got = await nb.welcome_for(client_id)
        expect(f"first message for client {client_id}", got, f"Welcome, client {client_id}")
        await no_client_left(lab.port, f"welcome_for({client_id})", before)
    got = await asyncio.gather(*(nb.welcome_for(i) for i in (31, 32, 33)))
    expect("three at once, with asyncio.gather", list(got), [f"Welcome, client {i}" for i in (31, 32, 33)])
    await no_client_left(lab.port, "three at once", before)


# -- 2. refused -------------------------------------------------------------------------------------
REFUSED_CASES = {  # what the lab answers, asked of the lab itself: only the server knows what it accepts
    "7": 101, "-3": 101, "7.0": 101, "seven": 403, "٣": 403, "7?debug=1": 403, "7/8": 403,
}


@exercise("refused", "not an integer",
          hint="the status the server itself answers, for the client id as one path segment (every character "
               "encoded), with an accepted connection closed again (exercise 2's statement, and 'Stopping, "
               "starting')")
async def refused(nb):
    lab = nb.lab
    before = client_sockets(lab.port)
    for client_id, status in REFUSED_CASES.items():
        got = await nb.handshake_status(client_id)
        expect(f"status for client id {client_id!r}", got, status)
        await no_client_left(lab.port, f"handshake_status({client_id!r})", before)


# -- 3. recv-or-none --------------------------------------------------------------------------------
def _later_app() -> FastAPI:
    app = check_app("check: recv-or-none")

    @app.websocket("/later")
    async def later(websocket: WebSocket, after: float = 0.0, text: str = "late"):
        await websocket.accept()
        try:
            await asyncio.sleep(after)
            await websocket.send_text(text)
            while True:
                await websocket.send_text(f"Echo: {await websocket.receive_text()}")
        except WebSocketDisconnect:
            pass

    return app


async def _timed(call) -> tuple[object, float]:
    start = time.monotonic()
    result = await call
    return result, time.monotonic() - start


@exercise("recv-or-none", "a message, or nothing",
          hint="wait at most `seconds`, however many that is, return None when nothing came (not an exception, "
               "not an empty text), and leave the connection usable ('Never wait forever: asyncio.timeout')",
          timeout=30)
async def recv_or_none(nb):
    from rtlab import serve

    server = serve(_later_app(), name="check: recv-or-none")
    try:
        async with asyncio.timeout(20), connect(server.ws_url + "/later?after=0") as ws:
            got = await nb.recv_or_none(ws, 5)
            expect("a message that is there", got, "late")
            got, took = await _timed(nb.recv_or_none(ws, 0.3))
            expect("nothing sent, within 0.3 s", got, None)
            expect_true("nothing sent: it waited about 0.3 s", 0.25 <= took < 3, f"it returned after {took:.2f} s")
            await ws.send("ping")
            expect("after sending 'ping'", await nb.recv_or_none(ws, 5), "Echo: ping")
        # a message that comes after 2 s: a wait of 5 s gets it, a wait of 0.2 s does not, and the connection
        # still delivers it afterwards
        async with asyncio.timeout(20), connect(server.ws_url + "/later?after=2") as ws:
            got = await nb.recv_or_none(ws, 0.2)
            expect("a message due in 2 s, waiting 0.2 s", got, None)
            got = await nb.recv_or_none(ws, 5)
            expect("then the same message, waiting 5 s", got, "late")
            await ws.send("still there?")
            expect("the connection is still usable", await nb.recv_or_none(ws, 5), "Echo: still there?")
    finally:
        server.stop()
