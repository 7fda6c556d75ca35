"""Keep-alive: a client that stops answering pings is dropped; the others never notice."""
from __future__ import annotations

import socket
import time

from websockets.sync.client import connect

from rtlab import LabServer

from .helpers import raw_handshake

INTERVAL, TIMEOUT = 0.3, 0.3


def read_frames_until_eof(sock: socket.socket, deadline: float) -> list[tuple[int, bytes]]:
    """Read (never answer) frames until the server ends the connection."""
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    data, frames = b"", []
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    while data:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        frames.append((opcode, data[2:2 + length]))
        data = data[2 + length:]
    return frames


def test_client_that_stops_answering_pings_is_dropped():
    with LabServer(ping_interval=INTERVAL, ping_timeout=TIMEOUT) as lab:
        with connect(lab.ws_url + "/ws/echo") as healthy:
            mute = raw_handshake(lab.port, "/ws/echo")
            start = time.monotonic()
            frames = read_frames_until_eof(mute, start + 10)
            elapsed = time.monotonic() - start
            mute.close()
            assert elapsed < INTERVAL + TIMEOUT + 3.0, elapsed  # the pings, not the 10 s read deadline
            opcodes = [op for op, _ in frames]
            assert 0x9 in opcodes, "the server pinged"
            assert opcodes[-1] == 0x8, "and closed with a close frame"
            assert int.from_bytes(frames[-1][1][:2], "big") == 1011
            # The healthy client answered every ping (websockets does it for us) and is still served.
            for i in range(3):
                healthy.send(f"still here {i}")
                assert healthy.recv(timeout=5) == f"Echo: still here {i}"
