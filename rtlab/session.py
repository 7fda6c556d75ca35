"""One session lifecycle for every endpoint that names a user or a room.

The order, written once:

* **enter** — limit (reserve a pool slot, atomically), register (count the connection in the
  broker before the handshake completes, so that a client that sees its socket open is already
  visible to every process), presence (count its user in its groups), attach (this process takes
  the traffic of its groups and user, confirmed), accept, add it to the hub, announce (``joined``);
* **leave**, on any exit (the client left, it was dropped, the server is stopping, the handler
  raised: then the client gets 1011 and the traceback is logged) — remove (from the hub: nothing more is
  sent to it), detach, presence and counts out of the broker, announce (``left``, which then counts
  everyone but the leaver), release the pool slot.

A limit that is reached is answered by accepting and closing with 1008 and a reason, and the
session yields ``None``.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from fastapi import WebSocket, WebSocketDisconnect

from .hub import Connection
from .wsio import INTERNAL_ERROR, POLICY_VIOLATION, Closed, close_quietly

log = logging.getLogger("rtlab")

Hook = Callable[[Connection], Awaitable[None]]


@contextlib.asynccontextmanager
async def session(services, ws: WebSocket, endpoint: str, *, user: str | None = None, groups: Iterable[str] = (),
                  limit: int | None = None, subprotocol: str | None = None, hold: bool = False,
                  joined: Hook | None = None, left: Hook | None = None) -> AsyncIterator[Connection | None]:
    """``async with session(services, ws, "chat", user=u, groups=[g]) as conn:`` (see the module doc).

    ``hold``: the connection starts held (live messages wait until ``conn.release()``), for an
    endpoint that sends a history first. ``joined`` and ``left`` announce the connection.
    """
    presence, fanout, hub = services.broker.presence, services.broker.fanout, services.hub
    groups = list(groups)
    slot = f"{endpoint}:{user or ''}"
    if limit is not None and not await presence.pool_acquire(slot, limit):
        hub.metrics.refused += 1
        await ws.accept(subprotocol=subprotocol)
        await close_quietly(ws, POLICY_VIOLATION, "Max connections reached")
        yield None
        return
    conn = Connection(hub, ws, endpoint, user)
    conn.groups.update(groups)
    if hold:
        conn.hold()
    accepted = attached = False
    try:
        await presence.connected(conn)
        await presence.entered(conn, groups)
        attached = True  # (interest is counted before attach waits: undone whatever happens next)
        await fanout.attach(conn)
        await ws.accept(subprotocol=subprotocol)
        accepted = True
        hub.add(conn, groups)
        if joined is not None:
            await joined(conn)
        yield conn
    except (Closed, WebSocketDisconnect):
        raise
    except Exception:
        if not accepted:
            raise
        # A fault of the server's own (a bug, a broker failing mid-call): the client gets a close
        # frame that says so, 1011, rather than a cut connection (1006); the traceback is logged.
        log.exception("%r: the endpoint failed", conn)
        await conn.close(INTERNAL_ERROR, "Internal error")
    finally:
        if accepted:
            hub.remove(conn)
        if attached:
            await fanout.detach(conn)
        await presence.left(conn)
        if accepted and left is not None:
            try:
                await left(conn)
            except Exception:  # the leave announcement must not keep the slot taken
                log.exception("announcing that %r left failed", conn)
        if limit is not None:
            await presence.pool_release(slot)
