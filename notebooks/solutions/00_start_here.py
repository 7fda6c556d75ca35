# Solutions to the exercises of notebooks/00_start_here.ipynb.
# Each section replaces the whole exercise cell of the same ID (tests/test_exercises.py).

# %% exercise: welcome
async def welcome_for(client_id: int) -> str:
    """Connect to /ws/client/{client_id} on the lab (lab.ws_url) and return the first message."""
    async with connect(f"{lab.ws_url}/ws/client/{client_id}") as ws:
        async with asyncio.timeout(5):
            return await ws.recv()

# %% exercise: refused
from urllib.parse import quote

from websockets.exceptions import InvalidStatus


async def handshake_status(client_id: str) -> int:
    """The HTTP status the lab answers the handshake of /ws/client/{client_id} with."""
    try:
        async with connect(f"{lab.ws_url}/ws/client/{quote(client_id, safe='')}") as ws:
            return ws.response.status_code
    except InvalidStatus as refused:
        return refused.response.status_code

# %% exercise: recv-or-none
async def recv_or_none(ws, seconds: float) -> str | None:
    """The next message on ws, or None when none comes within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return await ws.recv()
    except TimeoutError:
        return None
