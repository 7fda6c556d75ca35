"""The reference: the same broadcast endpoint on the raw ``websockets`` library, with ``broadcast()``."""
from __future__ import annotations

import asyncio
import json
import sys
from urllib.parse import parse_qs, urlparse

import websockets
from websockets.asyncio.server import serve


async def main() -> None:
    clients: set = set()

    async def handler(ws) -> None:
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

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=64 * 1024,
                     ping_interval=20, ping_timeout=20) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"serving on http://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
