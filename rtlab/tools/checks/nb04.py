"""Checks of notebook 04 · Broadcasting: a budget in bytes, and everyone but the sender.

Both run with a client that never reads, since that is what the lesson is about: a broadcast that
waits for a socket stalls everyone, and the check sees it.
"""
from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from ...server import serve
from ..clients import stalled_client
from . import NotYet, exercise, expect


class StandIn:
    """What a manager uses of a WebSocket. A stalled one never returns from ``send_text``; a healthy one
    keeps what it is sent. Both remember their close codes."""

    def __init__(self, username: str, stalled: bool = False) -> None:
        self.query_params = {"username": username}
        self.stalled = stalled
        self.got: list[str] = []
        self.closes: list[int] = []
        self.sending = asyncio.Event()  # send_text was called
        self.cancelled = asyncio.Event()  # a stalled send_text was cancelled (its writer stopped)
        self.changed = asyncio.Event()  # something arrived, or a close

    async def accept(self) -> None:
        pass

    async def send_text(self, text: str) -> None:
        self.sending.set()
        if self.stalled:
            try:
                await asyncio.Event().wait()  # forever
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        self.got.append(text)
        self.changed.set()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closes.append(code)
        self.changed.set()

    def __repr__(self) -> str:
        return self.query_params["username"]


async def until(ws: StandIn, condition, what: str, seconds: float = 5) -> None:
    """Wait until ``condition()`` holds, woken by what ``ws`` receives; fail with ``what`` after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            while not condition():
                ws.changed.clear()
                await ws.changed.wait()
    except TimeoutError:
        raise NotYet(f"{what}: not within {seconds:g} s") from None


async def event(e: asyncio.Event, what: str, seconds: float = 5) -> None:
    try:
        async with asyncio.timeout(seconds):
            await e.wait()
    except TimeoutError:
        raise NotYet(f"{what}: not within {seconds:g} s") from None


async def returns(awaitable, what: str, seconds: float = 2):
    """A broadcast must return at once: it never waits for a socket."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise NotYet(f"{what} did not return within {seconds:g} s: it waited for the stalled socket") from None


def tasks_of(sockets) -> list[asyncio.Task]:
    """The running tasks whose coroutine holds one of ``sockets`` (a writer of theirs), however it is written."""
    found = []
    for task in asyncio.all_tasks():
        if task.done() or task is asyncio.current_task():
            continue
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        values = list(frame.f_locals.values()) if frame is not None else []
        if any(v is s or getattr(v, "websocket", None) is s for v in values for s in sockets):
            found.append(task)
    return found


# -- exercise 1 -----------------------------------------------------------------------------
@exercise("byte-budget", "a budget in bytes", timeout=90,
          hint="a message waits for a connection from the moment broadcast queues it until its send_text has "
               "returned, and the connection is dropped only when the waiting characters would pass the budget, "
               "not when they reach it; broadcast never waits for a socket, and a connection that goes takes "
               "its writer with it (sections 'The fix: an outbox per connection' and 'rtlab's hub, under the "
               "same stalled client')")
async def byte_budget(nb):
    budget = nb.ByteBudgetManager(10_000)
    ok, stuck = StandIn("ok"), StandIn("stuck", stalled=True)
    for ws in (ok, stuck):
        await returns(budget.connect(ws), "connect()")
    await returns(budget.broadcast("0".ljust(100)), "broadcast()")
    await event(stuck.sending, "the stalled socket's send_text is called for the first message")
    for i in range(1, 100):  # 100 messages of 100 characters: 10,000 waiting for "stuck", one inside send_text
        await returns(budget.broadcast(f"{i}".ljust(100)), "broadcast()")
    expect("dropped with 10,000 characters waiting for 'stuck' (the first inside its send_text), budget 10,000",
           budget.dropped, [])
    await until(ok, lambda: len(ok.got) == 100, "the healthy socket gets the 100 messages")
    await returns(budget.broadcast("!"), "broadcast()")  # one character over
    expect("dropped after one more character", budget.dropped, ["stuck"])
    await until(ok, lambda: len(ok.got) == 101, "the healthy socket gets the 101st message")
    await event(stuck.cancelled, "the dropped connection's writer is stopped")
    await until(stuck, lambda: stuck.closes == [1013], "the dropped connection is closed with 1013")
    for i in range(30):  # the healthy one keeps its budget: what it was sent no longer waits
        await returns(budget.broadcast(f"more {i}".ljust(1_000)), "broadcast()")
        await until(ok, lambda: len(ok.got) == 102 + i, "the healthy socket gets each later message")
    expect("dropped after 30 more messages of 1,000 characters, each sent before the next", budget.dropped, ["stuck"])
    budget.disconnect(ok)
    try:
        async with asyncio.timeout(2):
            while tasks_of([ok, stuck]):
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise NotYet(f"tasks still running after every connection was disconnected or dropped: "
                     f"{len(tasks_of([ok, stuck]))}") from None

    served = nb.ByteBudgetManager(256 * 1024)
    live = serve(nb.broadcast_app(served, "check: byte budget"))
    try:
        run = await nb.experiment(live.ws_url + "/ws/broadcast", patience=nb.GENEROUS)
        expect("messages that reached all five healthy clients, with a stalled client present",
               len(run.took), nb.MESSAGES)
        expect("dropped in the experiment", served.dropped, ["stalled"])
    finally:
        await asyncio.to_thread(live.stop)


# -- exercise 2 -----------------------------------------------------------------------------
FLOOD, CHUNK = 600, "x" * 15_000  # 9 MB: more than a stalled client's buffers absorb


async def got(ws, who: str) -> dict:
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), 10))
    except TimeoutError:
        raise NotYet(f"{who}: no message within 10 s") from None


@exercise("others", "everyone but the sender", timeout=90,
          hint="every broadcast goes once to each connection but the sender's (the sender is a connection, not a "
               "name), and never waits for a socket, so a "
               "client that stops reading holds no one up; a join counts the newcomer, a leave no longer counts "
               "the leaver (sections 'One client stops reading' and 'The fix: an outbox per connection')")
async def others(nb):
    live = serve(nb.make_others_app(), name="check: others")
    url = live.ws_url + "/ws/others?username="
    try:
        async with stalled_client(url + "stalled"), connect(url + "a") as a, connect(url + "b") as b:
            expect("a, when b joins", await got(a, "a"), {"type": "join", "username": "b", "count": 3})
            async with connect(url + "c") as c:
                expect("a, when c joins", await got(a, "a"), {"type": "join", "username": "c", "count": 4})
                expect("b, when c joins", await got(b, "b"), {"type": "join", "username": "c", "count": 4})
                await a.send(json.dumps({"message": "hi"}))
                for name, ws in (("b", b), ("c", c)):
                    expect(f"{name}, after a's message", await got(ws, name),
                           {"type": "message", "username": "a", "message": "hi"})
                await b.send(json.dumps({"message": "ok"}))
                expect("a's next message (not its own 'hi')", await got(a, "a"),
                       {"type": "message", "username": "b", "message": "ok"})
                expect("c, after b's message", await got(c, "c"), {"type": "message", "username": "b", "message": "ok"})
            for name, ws in (("a", a), ("b", b)):
                expect(f"{name}'s next message, after c left", await got(ws, name),
                       {"type": "leave", "username": "c", "count": 3})
            for i in range(FLOOD):  # a floods; the stalled client's buffers fill up meanwhile
                await a.send(json.dumps({"message": f"{i}:{CHUNK}"}))
                message = await got(b, f"b, waiting for a's message {i} of {FLOOD} (a client that never reads is in)")
                expect(f"b, after a's message {i} of {FLOOD}", (message.get("username"), message.get("message")),
                       ("a", f"{i}:{CHUNK}"))
            await b.send(json.dumps({"message": "end"}))
            expect(f"a's next message after its {FLOOD} (none of its own)", await got(a, "a"),
                   {"type": "message", "username": "b", "message": "end"})
            # another connection with a's username (a second tab, or two users who gave no name): it is an other
            async with connect(url + "a") as twin:
                for name, ws in (("a", a), ("b", b)):
                    message = await got(ws, name)
                    expect(f"{name}, when a second connection named 'a' joins", (message.get("type"),
                           message.get("username")), ("join", "a"))
                await a.send(json.dumps({"message": "to my twin"}))
                for name, ws in (("the second connection named 'a'", twin), ("b", b)):
                    expect(f"{name}, after the first a's message", await got(ws, name),
                           {"type": "message", "username": "a", "message": "to my twin"})
                await b.send(json.dumps({"message": "end again"}))
                expect("the first a's next message (not its own 'to my twin')", await got(a, "a"),
                       {"type": "message", "username": "b", "message": "end again"})
    finally:
        await asyncio.to_thread(live.stop)
