"""Every use of uvicorn's and Starlette's undocumented internals, in one guarded place.

rtlab reaches below the public ASGI interface in three places, each for a measured reason:

1. **The protocol fix** (:class:`LabWebSocketProtocol`): uvicorn's websockets-sansio protocol with
   its ``send_receive_event_to_app`` replaced. A text message that is not valid UTF-8 must fail
   the connection with 1007 (RFC 6455, 8.1); uvicorn 0.54 logs a traceback for what is only a
   client's fault, and when the client's close frame arrives in the same read, its
   ``send_close(1007)`` raises ``InvalidState``: the transport dies with no close reply (found by
   ``tests/test_fuzz.py``). It also drops the handshake's request and response once open and keeps
   received events in a light :class:`Inbox` instead of an ``asyncio.Queue`` (smaller idle
   connections), and pauses reading only when messages pile up (fewer system calls).
2. **The fast paths**: the hub writes pre-built WebSocket frames straight to uvicorn's transport,
   once for every client, as ``websockets.broadcast()`` does (:func:`fast_transport`,
   :func:`write_now`, :func:`write_frames`); an SSE fan-out stream writes pre-built events as
   chunks of its response straight to the transport of uvicorn's httptools HTTP protocol, past the
   ASGI middleware chain, once its headers went out the usual way (:func:`http_chunk_writer`).
3. **The server** (:class:`UvicornServer`): tells the app when shutdown begins, and clears
   uvicorn's captured signals so that a stop by ``SIGINT``/``SIGTERM`` exits 0.

At import, :data:`SUPPORT` records whether the attributes each one needs exist in the installed
versions. Where they don't, rtlab uses the public API instead (uvicorn's stock protocol,
``websocket.send_text``) and logs one warning, at the first server start. Tests assert that on the
supported versions (``pyproject.toml`` pins them) both are active, and that the fallback works.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import uvicorn
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.protocol import State

__all__ = ["SUPPORT", "LabWebSocketProtocol", "UvicornServer", "ws_protocol"]  # what the server and notebook 03 use

log = logging.getLogger("rtlab")

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - a uvicorn without it
    WebSocketsSansIOProtocol = None
try:
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle as HttpToolsCycle
except ImportError:  # pragma: no cover - no httptools: uvicorn uses h11, and SSE the ASGI path
    HttpToolsCycle = None

INVALID_DATA = 1007
HIGH_WATER = 16  # messages queued for the app before reading pauses (websockets' own default)

# What each internal use reads or writes.
_PROTOCOL_ATTRS = ("send_receive_event_to_app", "handle_parser_exception", "send")
_PROTOCOL_STATE = ("frames", "curr_msg_data_type", "close_sent", "queue", "read_paused", "conn", "transport",
                   "writable", "disconnected", "request", "response")
_CYCLE_STATE = ("transport", "flow", "disconnected", "response_complete", "response_started", "chunked_encoding")


@dataclass
class Support:
    protocol_fix: bool  # LabWebSocketProtocol can replace uvicorn's
    fast_path: bool  # the hub may write frames to uvicorn's transport
    why_not: str = ""
    http_fast_path: bool = False  # SSE streams may write chunks to uvicorn's (httptools) transport

    def disable(self) -> None:
        """Use only the public API (for tests, and when something here breaks)."""
        self.protocol_fix = self.fast_path = self.http_fast_path = False
        self.why_not = "disabled"


def _attribute_names(cls) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        for value in vars(klass).values():
            code = getattr(value, "__code__", None)
            if code is not None:
                names.update(code.co_names)
    return names


def _probe() -> Support:
    if WebSocketsSansIOProtocol is None:
        return Support(False, False, "uvicorn has no websockets-sansio protocol")
    missing = [a for a in _PROTOCOL_ATTRS if not hasattr(WebSocketsSansIOProtocol, a)]
    # Instance state is assigned in the methods: read the attribute names their code uses.
    used = _attribute_names(WebSocketsSansIOProtocol)
    missing += [a for a in _PROTOCOL_STATE if a not in used]
    # Starlette's WebSocket keeps the server's receive callable, bound to the protocol object.
    if "_receive" not in _attribute_names(WebSocket):
        missing.append("starlette WebSocket._receive")
    if missing:
        return Support(False, False, f"uvicorn {uvicorn.__version__} lacks {', '.join(missing)}")
    http = HttpToolsCycle is not None and not [a for a in _CYCLE_STATE if a not in _attribute_names(HttpToolsCycle)]
    return Support(True, True, http_fast_path=http)


SUPPORT = _probe()
_warned = False


def warn_once() -> None:
    """At a server's start: one warning if rtlab runs on the public API only."""
    global _warned
    if not _warned and not (SUPPORT.protocol_fix and SUPPORT.fast_path):
        _warned = True
        log.warning("framework internals unavailable (%s): using uvicorn's stock WebSocket protocol and "
                    "per-message sends; correct, but slower", SUPPORT.why_not)


# -- 1. the protocol fix ------------------------------------------------------------------------------
class Inbox:
    """What uvicorn's protocol asks of its ``asyncio.Queue`` of received events (``put_nowait``,
    ``get``, ``empty``, ``qsize``), without the Queue's three deques, a saving per idle connection
    that the README's memory table measures. One reader (the app) and a short list: the protocol pauses
    reading past HIGH_WATER."""

    __slots__ = ("_items", "_getter")

    def __init__(self) -> None:
        self._items: list = []
        self._getter: asyncio.Future | None = None

    def put_nowait(self, item) -> None:
        self._items.append(item)
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def get(self):
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


if WebSocketsSansIOProtocol is not None:
    class LabWebSocketProtocol(WebSocketsSansIOProtocol):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.queue = Inbox()

        async def send(self, message) -> None:
            await super().send(message)
            if message["type"] == "websocket.accept":
                # The handshake's request and response (about 2 KiB) are not needed once open. (The
                # app reads the scope's own copy of the headers; websockets' parser keeps a reference
                # to the request for the connection's life, so its headers are emptied in place.)
                if self.request is not None:
                    self.request.headers.clear()
                self.request = self.response = None

        def send_receive_event_to_app(self) -> None:
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            self.frames = []
            if self.close_sent:  # as uvicorn: past the app's close, messages are discarded
                return
            if self.curr_msg_data_type == "text":
                try:
                    event = {"type": "websocket.receive", "text": data.decode()}
                except UnicodeDecodeError:
                    if self.conn.state is State.OPEN:  # otherwise the peer's close, already read, ends it
                        self.conn.send_close(INVALID_DATA, "invalid UTF-8 in a text message")
                        self.handle_parser_exception()
                    return
            else:
                event = {"type": "websocket.receive", "bytes": data}
            self.queue.put_nowait(event)
            # uvicorn pauses reading after every message and resumes when the app has taken it: two
            # epoll_ctl calls per message. Pausing once HIGH_WATER messages wait keeps the bound on
            # memory with far fewer system calls (uvicorn's receive() resumes once the queue is empty).
            if not self.read_paused and self.queue.qsize() >= HIGH_WATER:
                self.read_paused = True
                self.transport.pause_reading()
else:  # pragma: no cover
    LabWebSocketProtocol = None


def ws_protocol(name: str):
    """What to give uvicorn as ``ws=``: the fixed protocol when it is supported, else the name."""
    if name == "websockets-sansio" and SUPPORT.protocol_fix:
        return LabWebSocketProtocol
    return name


# -- 2. the fast path ---------------------------------------------------------------------------------
TRANSPORT_ERRORS = (OSError, WebSocketDisconnect)  # what a write to a peer that went away raises
# (ConnectionError is an OSError)


def fast_transport(ws: WebSocket):
    """uvicorn's protocol object behind a Starlette WebSocket, when writing frames to it is safe."""
    if not SUPPORT.fast_path:
        return None
    proto = getattr(getattr(ws, "_receive", None), "__self__", None)
    if isinstance(proto, WebSocketsSansIOProtocol) and not proto.conn.extensions:
        return proto  # (frames built once are valid only without compression)
    return None


async def write_frames(proto, data: bytes) -> None:
    """Write pre-built frames with the flow control uvicorn's own ``send()`` applies."""
    if not proto.writable.is_set():
        await proto.writable.wait()
    if proto.disconnected or proto.close_sent or proto.transport.is_closing():
        raise ConnectionError("connection closed")
    proto.transport.write(data)


def write_now(proto, data: bytes) -> bool:
    """Write pre-built frames at once if the socket takes them without waiting; False under
    backpressure (then :func:`write_frames` waits). Raises when the connection is closing."""
    if proto.disconnected or proto.close_sent or proto.transport.is_closing():
        raise ConnectionError("connection closed")
    if not proto.writable.is_set():
        return False
    proto.transport.write(data)
    return True


def _httptools_cycle(send, depth: int = 8):
    """uvicorn's httptools ``RequestResponseCycle`` behind an ASGI ``send`` that middlewares wrapped
    in closures (Starlette's error and exception middlewares), or None."""
    seen, layer = set(), [send]
    for _ in range(depth):
        following = []
        for fn in layer:
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            owner = getattr(fn, "__self__", None)
            if isinstance(owner, HttpToolsCycle):
                return owner
            for cell in getattr(fn, "__closure__", None) or ():
                try:
                    value = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
                if callable(value):
                    following.append(value)
        layer = following
    return None


def http_chunk_writer(send):
    """A function that writes bytes as one chunk of a started, chunked response straight to the
    transport (True), or says the socket is applying backpressure (False: then ``await send()``,
    which waits for it); raises ConnectionError once the client is gone. None where unsupported."""
    if not SUPPORT.http_fast_path:
        return None
    cycle = _httptools_cycle(send)
    if cycle is None or not (cycle.response_started and cycle.chunked_encoding):
        return None
    transport, flow = cycle.transport, cycle.flow

    def write(data: bytes) -> bool:
        if cycle.disconnected or cycle.response_complete or transport.is_closing():
            raise ConnectionError("the client went away")
        if flow.write_paused:
            return False
        transport.write(b"%x\r\n%s\r\n" % (len(data), data))
        return True

    return write


def abort(proto) -> None:
    """Cut the TCP connection now, without waiting for buffered data to drain."""
    if proto is not None:
        proto.transport.abort()


# -- 3. the server ------------------------------------------------------------------------------------
class UvicornServer(uvicorn.Server):
    """uvicorn's server, telling the app when shutdown begins so that streams end cleanly."""

    async def shutdown(self, sockets=None) -> None:
        services = getattr(getattr(self.config.app, "state", None), "services", None)
        if services is not None:
            services.begin_shutdown()
        await super().shutdown(sockets)
        # uvicorn re-raises a caught SIGTERM/SIGINT after serving; a clean stop exits 0.
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()
