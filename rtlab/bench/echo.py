"""Echo benchmark: round trips per second over one connection, against the raw ``websockets`` server.

One client sends a text message and waits for its echo, ``--messages`` times in a row, on
each server in turn:

* ``raw websockets`` — the reference: the ``websockets`` library's own asyncio server.
* ``rtlab (<impl>)`` — rtlab's ``/ws/echo`` under uvicorn, once per WebSocket implementation
  uvicorn can use here: ``websockets-sansio`` (rtlab's default), ``wsproto`` (when installed)
  and the deprecated legacy ``websockets``.

The client is a minimal hand-written protocol, so that its own cost stays small next to the
server's. The servers run at the same time and are measured in turns, so that whatever else
the machine does falls on all of them alike. Reported: round trips per second (the fastest of
``--repeat`` turns), the server's CPU time per round trip, and the ratio to the raw reference
(target: at least 0.6).
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time

from ..tools.clients import frame_header
from .common import RAW, RTLAB, ServerProcess, emit, progress, table
from .fanout import masked_text_frame, open_client, take_handshake


def implementations() -> list[str]:
    impls = ["websockets-sansio"]
    if importlib.util.find_spec("wsproto") is not None:
        impls.append("wsproto")
    impls.append("websockets")
    return impls


def targets() -> list[tuple[str, list[str], dict]]:
    rows = [("raw websockets", RAW, {})]
    for impl in implementations():
        label = f"rtlab ({impl}{', legacy' if impl == 'websockets' else ''})"
        rows.append((label, RTLAB, {"RTLAB_WS_PROTOCOL": impl, "PYTHONWARNINGS": "ignore::DeprecationWarning"}))
    return rows


class EchoClient(asyncio.Protocol):
    """Handshake, then one future per expected frame."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.handshaken = loop.create_future()
        self.reply = loop.create_future()
        self.buf = bytearray()
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.handshaken.done() and not take_handshake(self.buf, self.handshaken):
            return
        while (frame := frame_header(self.buf)) is not None:
            opcode, head, n = frame
            del self.buf[:head + n]
            if opcode == 0x1 and not self.reply.done():
                self.reply.set_result(None)


async def round_trips(port: int, messages: int, payload: bytes) -> float:
    """Seconds for ``messages`` round trips, one at a time."""
    client = await open_client(port, "/ws/echo", EchoClient())
    frame = masked_text_frame(payload)
    loop = asyncio.get_running_loop()
    try:
        for _ in range(50):  # warm-up
            client.reply = loop.create_future()
            client.transport.write(frame)
            await client.reply
        start = time.perf_counter()
        for _ in range(messages):
            client.reply = loop.create_future()
            client.transport.write(frame)
            await client.reply
        return time.perf_counter() - start
    finally:
        client.transport.abort()


async def run(messages: int = 2000, payload_bytes: int = 32, repeat: int = 3, show_progress: bool = True) -> list[dict]:
    """Every server started at once, then measured in turns (round robin), ``repeat`` times each:
    whatever else the machine does during the run falls on all of them alike. Best run kept."""
    payload = b"x" * payload_bytes
    servers = []
    try:
        for label, cmd, env in targets():
            servers.append((label, ServerProcess(cmd, env)))
        best: dict[str, tuple[float, float]] = {}
        rounds = [(r, label, server) for r in range(repeat) for label, server in servers]
        for _, label, server in progress(rounds, desc="echo", enabled=show_progress):
            cpu0 = server.cpu()
            seconds = await round_trips(server.port, messages, payload)
            cpu = server.cpu() - cpu0
            if label not in best or seconds < best[label][0]:
                best[label] = (seconds, cpu)
    finally:
        for _, server in servers:
            server.stop()
    rows = [{"server": label, "round_trips_per_s": messages / best[label][0],
             "server_cpu_us_per_round_trip": best[label][1] / messages * 1e6} for label, _ in servers]
    ref = rows[0]["round_trips_per_s"]
    for r in rows:
        r["vs_raw"] = r["round_trips_per_s"] / ref
    return rows


COLUMNS = [("server", "server", ""), ("round_trips_per_s", "round trips/s", ",.0f"),
           ("server_cpu_us_per_round_trip", "server µs CPU/round trip", ".1f"), ("vs_raw", "vs raw", ".2f")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtlab.bench echo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=5000, help="round trips per run")
    p.add_argument("--payload", type=int, default=32, help="bytes per message")
    p.add_argument("--repeat", type=int, default=3, help="runs per server; the fastest is kept")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args.messages, args.payload, args.repeat))
    emit(rows, table(rows, COLUMNS) + "\n\ntarget: rtlab at least 0.60 of the raw reference", args.json)
    return 0
