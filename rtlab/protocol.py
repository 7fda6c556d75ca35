"""uvicorn's websockets-sansio protocol, with one fix found by the fuzzer (tests/test_fuzz.py).

A text message that is not valid UTF-8 must fail the connection with 1007 (RFC 6455, 8.1).
uvicorn 0.54 does that, but logs a traceback at ERROR level for what is only a client's
fault, and when the client's close frame arrives in the same read as that message, its
``send_close(1007)`` raises ``InvalidState`` (the connection is already closing): the
transport dies with "Fatal error: protocol.data_received() call failed" and no close reply.
Here the message is refused quietly, and a close already under way is left to finish.

It also lets go of the handshake's request and response once the connection is open (every
idle connection is that much smaller: ``python -m rtlab.bench capacity``), and pauses reading
only when messages pile up, not after each one (``python -m rtlab.bench echo``).
"""
from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

INVALID_DATA = 1007


HIGH_WATER = 16  # messages queued for the app before reading pauses (websockets' own default)


class LabWebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # The handshake's request and response (headers and all, about 2 KiB) are not needed
            # once the connection is open; uvicorn would keep them for its whole life.
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
        # epoll_ctl system calls per message. Pausing only once HIGH_WATER messages wait keeps the
        # same bound on memory with far fewer system calls (uvicorn's receive() resumes reading
        # once the queue is empty again).
        if not self.read_paused and self.queue.qsize() >= HIGH_WATER:
            self.read_paused = True
            self.transport.pause_reading()
