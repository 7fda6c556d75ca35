# Variants of the exercises of notebooks/00_start_here.ipynb, for tests/test_exercises.py: each wrong one
# must get "not yet" from its check, each valid one "passed". Each section is the whole exercise cell.

# %% wrong: welcome: opens the connection without async with, and never closes it
async def welcome_for(client_id: int) -> str:
    ws = await connect(f"{lab.ws_url}/ws/client/{client_id}")
    async with asyncio.timeout(5):
        return await ws.recv()

# %% wrong: welcome: the id of the sample run, whatever client_id is
async def welcome_for(client_id: int) -> str:
    async with connect(f"{lab.ws_url}/ws/client/7") as ws:
        async with asyncio.timeout(5):
            return await ws.recv()

# %% wrong: welcome: forgets to await recv(), and returns a coroutine
async def welcome_for(client_id: int) -> str:
    async with connect(f"{lab.ws_url}/ws/client/{client_id}") as ws:
        return ws.recv()

# %% wrong: welcome: sends a word first and returns the answer to it
async def welcome_for(client_id: int) -> str:
    async with connect(f"{lab.ws_url}/ws/client/{client_id}") as ws:
        await ws.send("hello")
        async with asyncio.timeout(5):
            await ws.recv()
            return await ws.recv()

# %% valid: welcome: connect() and close() by hand, in try/finally, with async for
async def welcome_for(client_id: int) -> str:
    ws = await connect(lab.ws_url + "/ws/client/" + str(client_id))
    try:
        async with asyncio.timeout(5):
            async for message in ws:
                return message
    finally:
        await ws.close()

# %% wrong: refused: guesses from the text with int() instead of asking the server
async def handshake_status(client_id: str) -> int:
    try:
        int(client_id)
        return 101
    except ValueError:
        return 403

# %% wrong: refused: the id put in the URL as it is, unencoded ("7?debug=1" opens /ws/client/7)
from websockets.exceptions import InvalidStatus


async def handshake_status(client_id: str) -> int:
    try:
        async with connect(f"{lab.ws_url}/ws/client/{client_id}") as ws:
            return ws.response.status_code
    except InvalidStatus as refused:
        return refused.response.status_code

# %% wrong: refused: isdigit() decides, then asks the server only for digits
from urllib.parse import quote

from websockets.exceptions import InvalidStatus


async def handshake_status(client_id: str) -> int:
    if not client_id.isdigit():
        return 403
    try:
        async with connect(f"{lab.ws_url}/ws/client/{quote(client_id, safe='')}") as ws:
            return ws.response.status_code
    except InvalidStatus as refused:
        return refused.response.status_code

# %% wrong: refused: returns while the accepted connection is still open
from urllib.parse import quote

from websockets.exceptions import InvalidStatus


async def handshake_status(client_id: str) -> int:
    try:
        ws = await connect(f"{lab.ws_url}/ws/client/{quote(client_id, safe='')}")
        return ws.response.status_code
    except InvalidStatus as refused:
        return refused.response.status_code

# %% valid: refused: the sync client in a thread, and the status read from the exception's response
import urllib.parse

import websockets.sync.client
from websockets.exceptions import InvalidStatus


def _status(url: str) -> int:
    try:
        with websockets.sync.client.connect(url, open_timeout=5) as ws:
            return ws.response.status_code
    except InvalidStatus as exc:
        return exc.response.status_code


async def handshake_status(client_id: str) -> int:
    segment = urllib.parse.quote(client_id, safe="")
    return await asyncio.to_thread(_status, lab.ws_url + "/ws/client/" + segment)

# %% wrong: recv-or-none: sleeps for seconds and then waits without a bound
async def recv_or_none(ws, seconds: float) -> str | None:
    await asyncio.sleep(seconds)
    try:
        async with asyncio.timeout(5):
            return await ws.recv()
    except TimeoutError:
        return None

# %% wrong: recv-or-none: the 0.2 s of the sample run, whatever seconds is
async def recv_or_none(ws, seconds: float) -> str | None:
    try:
        async with asyncio.timeout(0.2):
            return await ws.recv()
    except TimeoutError:
        return None

# %% wrong: recv-or-none: lets the TimeoutError out instead of returning None
async def recv_or_none(ws, seconds: float) -> str | None:
    async with asyncio.timeout(seconds):
        return await ws.recv()

# %% wrong: recv-or-none: an empty text for "nothing"
async def recv_or_none(ws, seconds: float) -> str | None:
    try:
        async with asyncio.timeout(seconds):
            return await ws.recv()
    except TimeoutError:
        return ""

# %% valid: recv-or-none: asyncio.wait_for instead of asyncio.timeout
async def recv_or_none(ws, seconds: float) -> str | None:
    try:
        return await asyncio.wait_for(ws.recv(), timeout=seconds)
    except asyncio.TimeoutError:
        return None
