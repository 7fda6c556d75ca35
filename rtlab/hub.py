"""The connection hub: every real-time endpoint's sockets live here, and nowhere else.

The tutorial broadcast is ``for ws in clients: await ws.send_text(msg)``. It waits for each
client in turn, so one client that stops reading stalls everyone after it in the list.
The hub does what ``websockets.broadcast()`` does, and a bit more:

* A message is serialized **once** (JSON text, and the WebSocket frame bytes) however many
  clients receive it.
* Publishing only appends to each connection's bounded **outbox**; it never awaits a socket.
  Everything queued in one turn of the event loop goes out in **one write**, scheduled with
  ``call_soon``: an idle connection holds no task. Only a connection under backpressure (its
  peer reads slowly) gets a **writer task**, which waits for the socket and ends once caught up.
* A connection whose outbox grows past ``outbox_limit_bytes``, or whose writer makes no
  progress for ``stall_timeout`` seconds, is **dropped**: closed with 1013 and a reason, its
  socket aborted, and counted. The others never wait for it.
* A connection is removed exactly once, whatever ended it, and the indexes are never
  mutated while being iterated (publishing iterates a snapshot).
* A connection can be *held* while a reconnecting client's history is read: live messages
  queue up, then go out after the history with nothing repeated (see :mod:`rtlab.history`).

The hub knows nothing of other processes: :mod:`rtlab.session` admits and registers connections
through the broker, and the broker delivers to the hub through its delivery handler
(:class:`rtlab.services.LocalDelivery`).
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.websockets import WebSocket
from websockets.frames import Frame, Opcode

from . import internals
from .slow import SlowPolicy
from .wsio import TRY_AGAIN_LATER, Closed, Inbound, close_quietly, dumps, receive_text

log = logging.getLogger("rtlab.hub")

Key = tuple[int, int]


class Outgoing:
    """One message to many clients: JSON text and frame bytes, each built once.

    ``key`` orders a message of a resumable stream (a chat message, a notification, a document
    edit): a connection drops what the history it was sent already holds (:meth:`Connection.release`).
    """

    __slots__ = ("text", "size", "key", "_frame")

    def __init__(self, payload: Any, key: Key | None = None) -> None:
        self.text = payload if isinstance(payload, str) else dumps(payload)
        self.size = len(self.text)
        self.key = key
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = Frame(Opcode.TEXT, self.text.encode()).serialize(mask=False, extensions=[])
        return self._frame


class Connection:
    """An accepted WebSocket in the hub: its identity, its outbox and its writer.

    Idle connections are the common case, so each one is kept small: slots instead of a
    ``__dict__``, a list for the outbox, and no parked writer task (a task and its coroutine frame,
    even an empty ``asyncio.Event`` or deque, would be a sizeable part of an idle connection's
    memory: ``python -m rtlab.bench capacity``, figures in the README).
    """

    __slots__ = ("id", "hub", "ws", "endpoint", "user", "groups", "outbox", "queued", "waiting_since",
                 "closed", "held", "floor", "_proto", "_writer", "_scheduled", "_flushed")
    _ids = itertools.count(1)

    def __init__(self, hub: "Hub", ws: WebSocket, endpoint: str, user: str | None) -> None:
        self.id = next(self._ids)
        self.hub = hub
        self.ws = ws
        self.endpoint = endpoint
        self.user = user
        self.groups: set[str] = set()
        self.outbox: list[Outgoing] = []
        self.queued = 0  # characters queued, a cheap stand-in for bytes
        self.waiting_since: float | None = None  # when the outbox last went from empty to busy
        self.closed = False
        self.held: list[Outgoing] | None = None  # live messages waiting for the history (see hold())
        self.floor: Key | None = None  # the last key of the history it was sent (see release())
        self._proto = internals.fast_transport(ws)
        self._writer: asyncio.Task | None = None  # only while the peer applies backpressure
        self._scheduled = False  # a flush of the outbox is scheduled (call_soon)
        self._flushed: asyncio.Future | None = None  # for close(): resolved once all is written

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.endpoint} user={self.user!r}>"

    # -- sending -----------------------------------------------------------------------
    def send(self, message: Outgoing | Any) -> bool:
        """Queue a message; never waits. False if the connection is gone or was just dropped."""
        if self.closed:
            return False
        item = message if isinstance(message, Outgoing) else Outgoing(message)
        if item.key is not None and self.floor is not None:
            if item.key <= self.floor:
                return True  # the history it was sent holds this one already
            # A newer one: the bus delivers in publish order, so no late one can follow it (and
            # a stream that starts over, as a Redis that lost its data does, is not cut off).
            self.floor = None
        if self.held is not None:
            self.held.append(item)
            return True
        now = time.monotonic()
        policy = self.hub.policy  # (compared inline: this runs once per message per connection)
        if self.outbox:
            if now - self.waiting_since > policy.stall_timeout:
                self.hub.drop(self, policy.no_progress)
                return False
        else:
            self.waiting_since = now
        self.outbox.append(item)
        self.queued += item.size
        if self.queued > policy.limit_bytes:
            self.hub.drop(self, policy.too_slow)
            return False
        if not self._scheduled and self._writer is None:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return True

    def hold(self) -> None:
        """Queue live messages aside until :meth:`release` (while a history is read and sent)."""
        self.held = []

    def release(self, after: Key | None = None, first: Iterable[Any] = ()) -> None:
        """Send ``first`` (the history), then what was held; from now on, resumable messages at or
        before ``after`` are dropped, held or late: the history holds those already.

        Late ones exist across processes: the history is read on one Redis connection and live
        messages arrive on another, so a message the history holds can still arrive after this.
        The keys of a connection's resumable messages come from one ordered stream (its room, its
        notifications, its document), so anything at or before ``after`` is in that history; and
        once a newer one came, no late one can (the floor is lifted)."""
        held, self.held = self.held or [], None
        self.floor = after
        for message in first:
            self.send(message)
        for item in held:
            self.send(item)

    def _flush(self) -> None:
        """Write everything queued this turn in one go; under backpressure, hand over to a writer."""
        self._scheduled = False
        if self._writer is not None:
            return
        if self.closed:
            self._signal_flushed()
            return
        proto = self._proto
        try:
            if proto is not None and self.outbox and internals.write_now(proto, self._frames()):
                self._sent(self.outbox)
                self.outbox = []
        except internals.TRANSPORT_ERRORS:  # the peer went away: the reader sees it too
            self.hub.remove(self)
            return
        except Exception:  # a fault of ours (or of a framework upgrade): said, not swallowed
            log.exception("writing to %r failed", self)
            self.hub.remove(self)
            return
        if self.outbox:  # backpressure, or the public API (whose send is a coroutine)
            self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name=f"writer-{self.id}")
        else:
            self._signal_flushed()

    def _frames(self) -> bytes:
        return b"".join([m.frame for m in self.outbox])

    def _sent(self, batch: list[Outgoing]) -> None:
        self.queued -= sum(m.size for m in batch)
        self.waiting_since = time.monotonic()
        self.hub.metrics.messages_out += len(batch)

    async def _write_loop(self) -> None:
        """Drain the outbox, waiting for the socket as it asks; end once caught up."""
        try:
            while self.outbox:
                batch, self.outbox = self.outbox, []
                await self._write(batch)
                self._sent(batch)
        except asyncio.CancelledError:
            raise
        except internals.TRANSPORT_ERRORS:  # the peer went away mid-write: the reader sees it too
            self.hub.remove(self)
        except Exception:  # a fault of ours (or of a framework upgrade): said, not swallowed
            log.exception("writer of %r failed", self)
            self.hub.remove(self)
        finally:
            self._writer = None
            self._signal_flushed()

    def _signal_flushed(self) -> None:
        flushed, self._flushed = self._flushed, None
        if flushed is not None and not flushed.done():
            flushed.set_result(None)

    async def flush(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until everything queued so far has been written."""
        if self.closed or not (self.outbox or self._writer is not None):
            return
        if self._flushed is None:
            self._flushed = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._flushed)
        except TimeoutError:
            pass

    async def _write(self, batch: list[Outgoing]) -> None:
        proto = self._proto
        if proto is None:
            for item in batch:
                await self.ws.send_text(item.text)
            return
        await internals.write_frames(proto, b"".join([m.frame for m in batch]))

    def abort(self) -> None:
        """Cut the TCP connection now, without waiting for buffered data to drain."""
        internals.abort(self._proto)

    # -- receiving ---------------------------------------------------------------------
    async def messages(self, inbound: Inbound) -> AsyncIterator[Any]:
        """Valid messages from the client; bad ones get an error reply through the outbox."""
        limit = self.hub.settings.max_message_bytes
        metrics = self.hub.metrics
        while True:
            try:
                text = await receive_text(self.ws, limit, self)
            except Closed:
                return
            metrics.messages_in += 1
            try:
                message = inbound.parse(text)
            except ValueError as exc:
                self.send({"type": "error", "detail": str(exc)})
                continue
            yield message

    # How the reader answers faults (see wsio.receive_frame): through the outbox, so that an
    # error reply, and everything queued before it, goes out before the close frame.
    async def error(self, detail: str) -> None:
        self.send({"type": "error", "detail": detail})

    async def close(self, code: int, reason: str, flush_timeout: float = 1.0) -> None:
        await self.flush(flush_timeout)
        await close_quietly(self.ws, code, reason)


class Metrics:
    """Counters the hub keeps; the dashboard reads them."""

    def __init__(self) -> None:
        self.messages_in = 0
        self.messages_out = 0
        self.accepted = 0
        self.refused = 0
        self.dropped_slow = 0
        self.removed = 0


class Hub:
    def __init__(self, settings) -> None:
        self.settings = settings
        self.policy = SlowPolicy(settings.outbox_limit_bytes, settings.stall_timeout)
        self.metrics = Metrics()
        self.connections: set[Connection] = set()
        self.by_id: dict[int, Connection] = {}
        self.groups: dict[str, set[Connection]] = collections.defaultdict(set)
        self.users: dict[str, set[Connection]] = collections.defaultdict(set)

    # -- joining and leaving -------------------------------------------------------------
    def add(self, conn: Connection, groups: Iterable[str] = ()) -> None:
        """Register an accepted connection in every index."""
        self.connections.add(conn)
        self.by_id[conn.id] = conn
        if conn.user is not None:
            self.users[conn.user].add(conn)
        for group in groups:
            self.groups[group].add(conn)
            conn.groups.add(group)
        self.metrics.accepted += 1

    def remove(self, conn: Connection) -> bool:
        """Take a connection out of every index. Idempotent: True only the first time."""
        if conn.closed:
            return False
        conn.closed = True
        self.connections.discard(conn)
        self.by_id.pop(conn.id, None)
        for group in conn.groups:
            members = self.groups.get(group)
            if members is not None:
                members.discard(conn)
                if not members:
                    del self.groups[group]
        if conn.user is not None:
            mine = self.users.get(conn.user)
            if mine is not None:
                mine.discard(conn)
                if not mine:
                    del self.users[conn.user]
        if conn._writer is not None and conn._writer is not asyncio.current_task():
            conn._writer.cancel()
        conn.outbox.clear()
        self.metrics.removed += 1
        return True

    def drop(self, conn: Connection, reason: str) -> None:
        """The slow-consumer policy: close with 1013 and a reason, abort the socket, count it."""
        if not self.remove(conn):
            return
        self.metrics.dropped_slow += 1
        log.warning("dropped %r: %s", conn, reason)
        asyncio.get_running_loop().create_task(self._close_slow(conn, reason))

    @staticmethod
    async def _close_slow(conn: Connection, reason: str) -> None:
        # The close frame goes out if the peer's buffers have room; either way the socket is
        # aborted shortly after, so a peer that never reads cannot hold it open.
        try:
            async with asyncio.timeout(0.5):
                await close_quietly(conn.ws, TRY_AGAIN_LATER, reason)
        except TimeoutError:
            pass
        conn.abort()

    # -- sending ---------------------------------------------------------------------------
    def publish(self, group: str, payload: Any, exclude: Connection | None = None) -> int:
        """Queue one message for every member of a group; returns how many it was queued for."""
        members = self.groups.get(group)
        if not members:
            return 0
        item = payload if isinstance(payload, Outgoing) else Outgoing(payload)
        sent = 0
        for conn in list(members):  # a snapshot: send() may drop (and so remove) a member
            if conn is not exclude and conn.send(item):
                sent += 1
        return sent

    def send_to_user(self, user: str, payload: Any, endpoint: str | None = None) -> int:
        conns = self.users.get(user)
        if not conns:
            return 0
        item = payload if isinstance(payload, Outgoing) else Outgoing(payload)
        return sum(1 for c in list(conns) if (endpoint is None or c.endpoint == endpoint) and c.send(item))

    # -- looking -----------------------------------------------------------------------------
    def users_in(self, group: str) -> list[str]:
        return sorted({c.user for c in self.groups.get(group, ()) if c.user is not None})

    def count_by_endpoint(self) -> dict[str, int]:
        return dict(collections.Counter(c.endpoint for c in self.connections))
