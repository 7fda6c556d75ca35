"""Checks of notebook 01 (the handshake): an endpoint that closes with a code, a frame by hand, frame sizes."""
from __future__ import annotations

import asyncio
import gc
import os
import warnings

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from . import exercise, expect, expect_true
from .nb00 import client_sockets


def raise_if_stub(server, since: int) -> None:
    """The stub's NotImplementedError, raised in the server's thread, as the check's own verdict."""
    for error in server.errors()[since:]:
        if "NotImplementedError" in error:
            raise NotImplementedError(error.rsplit("NotImplementedError: ", 1)[-1].strip())


async def _answer_or_close(ws) -> str:
    """The next message, or how the connection ended."""
    try:
        async with asyncio.timeout(5):
            return await ws.recv()
    except ConnectionClosed:
        return f"closed with {ws.close_code}"
    except TimeoutError:
        return "nothing within 5 s"


# -- 1. shout ---------------------------------------------------------------------------------------
@exercise("shout", "shout, and say goodbye",
          hint="each text answered in upper case; only the exact text 'bye' closes, with BYE_CODE, and gets no "
               "answer; the endpoint returns without an error when a client leaves ('Close codes', and "
               "'What if you don't accept?' for what a close sends)")
async def shout(nb):
    code = nb.BYE_CODE
    expect_true("BYE_CODE is 1000 or in 4000-4999", isinstance(code, int) and (code == 1000 or 4000 <= code <= 4999),
                f"BYE_CODE = {code!r}")
    server = nb.shout_server
    since = len(server.errors())
    try:
        async with asyncio.timeout(10), connect(server.ws_url + "/ws") as ws, \
                connect(server.ws_url + "/ws") as other:
            for text in ("hello", "ça va?", "Bye", "goodbye", "bye ", "bye bye"):
                await ws.send(text)
                expect(f"answer to {text!r}", await _answer_or_close(ws), text.upper())
            await other.send("still here")
            await ws.send("bye")
            expect("what follows 'bye'", await _answer_or_close(ws), f"closed with {code}")
            expect("the other client, after the first said 'bye'", await _answer_or_close(other), "STILL HERE")
        # the other client left with a close frame of its own: the endpoint must take that quietly too
        async with asyncio.timeout(10), connect(server.ws_url + "/ws") as third:
            await third.send("last")
            expect("answer to 'last'", await _answer_or_close(third), "LAST")
    except Exception:
        raise_if_stub(server, since)
        raise
    raise_if_stub(server, since)
    errors = server.errors()[since:]
    expect_true("no error in the server's log (server.errors())", not errors,
                errors[-1].splitlines()[-1] if errors else "")


# -- 2. binary-by-hand ------------------------------------------------------------------------------
SIZES = (0, 10, 125, 126, 300, 65_535, 65_536)  # each side of the two limits of the length field


@exercise("binary-by-hand", "binary, by hand",
          hint="one binary frame (opcode 0x2), masked, with the length field of its size, sent after the server's "
               "101 head is read; then the socket closed ('Frames, byte by byte', and the payload-length row)")
def binary_by_hand(nb):
    lab = nb.lab
    before = client_sockets(lab.port)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for size in SIZES:
            got = nb.binary_by_hand(os.urandom(size))
            expect(f"answer to {size} bytes", got, f"Received {size} bytes".encode())
            gc.collect()
    left = client_sockets(lab.port) - before
    expect_true("the socket is closed when the function returns", left <= 0,
                f"{left} socket(s) to the lab still open")
    unclosed = [w for w in caught if issubclass(w.category, ResourceWarning)]
    expect_true("the socket is closed by your code, not left to the garbage collector", not unclosed,
                str(unclosed[0].message) if unclosed else "")


# -- 3. header-length -------------------------------------------------------------------------------
def _header_bytes(n: int) -> int:
    extended = 0 if n <= 125 else 2 if n <= 0xFFFF else 8
    return 2 + extended + 4


HEADER_SIZES = (0, 1, 125, 126, 127, 65_535, 65_536, 1_000_000, 2**63 - 1)


@exercise("header-length", "header sizes",
          hint="the payload-length row of the frame table: which lengths fit in 7 bits, which need 16, which 64, "
               "and that a client frame always carries its masking key ('Frames, byte by byte')")
def header_length(nb):
    for n in HEADER_SIZES:
        expect(f"header bytes for a payload of {n:,}", nb.client_header_length(n), _header_bytes(n))
