"""The reference: the raw ``websockets`` library, serving what the benchmarks compare against.

* ``/ws/broadcast`` (any path but the others): ``{"message": M}`` goes to every client
  with ``websockets.broadcast()``, as rtlab's ``/ws/broadcast`` does through its hub.
* ``/ws/echo``: text ``T`` answers ``Echo: T``, as rtlab's ``/ws/echo``.
* ``--deflate``: offer permessage-deflate (off by default, as in rtlab).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from urllib.parse import parse_qs, urlparse

import websockets
from websockets.asyncio.server import serve


async def main(deflate: bool) -> None:
    clients: set = set()

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(f"Echo: {message}" if isinstance(message, str) else f"Received {len(message)} bytes")

    async def broadcast(ws) -> None:
        query = parse_qs(urlparse(ws.request.path).query)
        username = query.get("username", ["anonymous"])[0]
        clients.add(ws)
        try:
            async for text in ws:
                data = json.loads(text)
                websockets.broadcast(clients, json.dumps(
                    {"type": "message", "username": username, "message": data["message"]}, separators=(",", ":")))
        finally:
            clients.discard(ws)

    async def handler(ws) -> None:
        path = urlparse(ws.request.path).path
        await (echo(ws) if path == "/ws/echo" else broadcast(ws))

    async with serve(handler, "127.0.0.1", 0, compression="deflate" if deflate else None, max_size=64 * 1024,
                     ping_interval=20, ping_timeout=20, backlog=2048) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"serving on http://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m rtlab.bench.raw_server", description=__doc__)
    parser.add_argument("--deflate", action="store_true")
    args = parser.parse_args()
    try:
        asyncio.run(main(args.deflate))
    except KeyboardInterrupt:
        sys.exit(0)
