"""Checks of notebook 02 (endpoints): validated parameters, an API key refused with a reason, an origin gate."""
from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from . import NotYet, exercise


async def first_outcome(url: str, **options) -> tuple:
    """What a script client sees first: ("HTTP", status) for a refused handshake, ("message", value) for a
    first message (JSON parsed, so spacing and key order don't count), or ("close", code, reason)."""
    try:
        async with asyncio.timeout(5), connect(url, **options) as ws:
            try:
                message = await ws.recv()
            except ConnectionClosed as closed:
                if closed.rcvd is None:
                    return ("close", "no close frame (1006)")
                return ("close", closed.rcvd.code, closed.rcvd.reason)
    except InvalidStatus as refused:
        return ("HTTP", refused.response.status_code)
    except TimeoutError:
        return ("nothing within 5 s",)
    if isinstance(message, str):
        try:
            return ("message", json.loads(message))
        except ValueError:
            return ("message", message)
    return ("message", message)


def show(outcome: tuple) -> str:
    """An outcome in words: HTTP 403, message {...}, close 1008 'reason'."""
    return " ".join(repr(part) if i == 2 or (i == 1 and outcome[0] == "message") else str(part)
                    for i, part in enumerate(outcome))


def expect(what: str, got: tuple, expected: tuple) -> None:
    """Fail unless the client saw ``expected``; the message shows both outcomes whole."""
    if got != expected:
        raise NotYet(f"{what}: expected {show(expected)}, got {show(got)}")


# -- 1. rooms-params --------------------------------------------------------------------------------
ROOMS_OK = [("lobby", "ada"), ("a", "b"), ("room-42", "ada lovelace"), ("x" * 32, "n" * 20), ("lobby", "é" * 20)]
ROOMS_REFUSED = [  # (room, nick or None for no nick at all, what is wrong)
    ("Lobby", "ada", "a capital at the start of the room"),
    ("lobby!", "ada", "a '!' at the end of the room"),
    ("Big Room", "ada", "a room with capitals and a space"),
    ("x" * 33, "ada", "a room of 33 characters"),
    ("lobby", None, "no nick"),
    ("lobby", "", "an empty nick"),
    ("lobby", "n" * 21, "a nick of 21 characters"),
    ("lobby", "é" * 21, "a nick of 21 characters (é)"),
]


@exercise("rooms-params", "rooms with validated parameters",
          hint="the whole room name must match the pattern, from its first character to its last; the nick is "
               "required, 1 to 20 characters; both checked by FastAPI before the endpoint runs, so a bad one is "
               "refused at the handshake ('Constraints FastAPI checks for you')")
async def rooms_params(nb):
    from rtlab import serve

    rooms = serve(nb.make_rooms_app(), name="check: rooms-params")
    try:
        base = rooms.ws_url + "/ws/rooms/"
        for room, nick in ROOMS_OK:
            url = base + quote(room, safe="") + "?nick=" + quote(nick, safe="")
            expect(f"room {room!r}, nick {nick!r}", await first_outcome(url),
                   ("message", {"room": room, "nick": nick}))
        for room, nick, what in ROOMS_REFUSED:
            url = base + quote(room, safe="") + ("" if nick is None else "?nick=" + quote(nick, safe=""))
            expect(what, await first_outcome(url), ("HTTP", 403))
    finally:
        rooms.stop()


# -- 2. api-key -------------------------------------------------------------------------------------
@exercise("api-key", "an API key in a header",
          hint="the user comes from API_KEYS itself, read at each connect; a refusal comes after accepting, with "
               "1008 and the exact reason, before any other message, and the endpoint ends with it ('Two ways to "
               "say no', and current_user_explained in 'Authentication with Depends')")
async def api_key(nb):
    from rtlab import serve

    keys = nb.API_KEYS
    added, revoked = "k-cat-0003", "k-bob-0002"
    keys[added] = "cat"  # a key that no sample run shows: the user must come from API_KEYS
    try:
        keyed = serve(nb.make_keyed_app(), name="check: api-key")
        try:
            url = keyed.ws_url + "/ws/keyed"
            for key, user in (("k-bob-0002", "bob"), ("k-ada-0001", "ada"), (added, "cat")):
                got = await first_outcome(url, additional_headers={"X-API-Key": key})
                expect(f"key of {user}", got, ("message", {"type": "welcome", "user": user}))
            expect("no key", await first_outcome(url), ("close", 1008, "missing API key"))
            for key in ("k-eve-9999", "K-BOB-0002"):
                got = await first_outcome(url, additional_headers={"X-API-Key": key})
                expect(f"key {key!r}", got, ("close", 1008, "unknown API key"))
            # while the app runs, a key is revoked and another one issued: API_KEYS is read at each connect
            keys.pop(revoked)
            keys["k-dan-0004"] = "dan"
            got = await first_outcome(url, additional_headers={"X-API-Key": revoked})
            expect(f"bob's key {revoked!r}, removed from API_KEYS while the app runs", got,
                   ("close", 1008, "unknown API key"))
            got = await first_outcome(url, additional_headers={"X-API-Key": "k-dan-0004"})
            expect("a key added to API_KEYS while the app runs", got, ("message", {"type": "welcome", "user": "dan"}))
        finally:
            keyed.stop()  # waits for the endpoints to end: what they raised after the refusals is logged by now
        errors = [line.strip() for e in keyed.errors() for line in e.splitlines() if "Error" in line and ":" in line]
        if errors:
            raise NotYet(f"errors logged by your server: expected none, got {errors[-1]!r} (an endpoint that goes on "
                         "after its close() sends or closes again)")
    finally:
        keys.pop(added, None)
        keys.pop("k-dan-0004", None)
        keys[revoked] = "bob"


# -- 3. origin-gate ---------------------------------------------------------------------------------
PARTNERS = {"http://partner.example", "https://app.partner.example:8443"}
LOOK_ALIKES = [  # (origin, how it resembles an allowed one)
    ("http://partner.example.evil.com", "an allowed origin as a prefix of another host"),
    ("http://partner.exampl", "a prefix of an allowed origin"),
    ("https://app-partner.example:8443", "an allowed origin with a dot of its host turned into a dash"),
    ("http://evilpartner.example", "an allowed host as a suffix"),
    ("http://evil.partner.example", "a subdomain of an allowed host"),
    ("http://partner.example:8080", "an allowed host on another port"),
    ("https://partner.example", "an allowed host under another scheme"),
    ("http://app.partner.example:8443", "the second allowed origin under another scheme"),
    ("https://app.partner.example", "the second allowed origin without its port"),
    ("http://partner.example/", "an allowed origin with a path"),
    ("null", "the opaque origin 'null' (a sandboxed frame, a file)"),
    ("http://evil.example", "an unrelated origin"),
]


@exercise("origin-gate", "your own origin check",
          hint="an Origin is let in only when it equals one of `allowed` exactly, scheme, host and port; a "
               "prefix, a suffix, a changed character, a port or scheme variant is another origin, refused before "
               "accepting, with HTTP 403; no Origin at all is a script, let in ('Origins and cross-site WebSocket "
               "hijacking')")
async def origin_gate(nb):
    from rtlab import serve

    guarded = serve(nb.make_guarded_app(set(PARTNERS)), name="check: origin-gate")
    try:
        url = guarded.ws_url + "/ws/guarded"
        expect("no Origin (a script)", await first_outcome(url), ("message", "welcome"))
        for origin in sorted(PARTNERS):
            expect(f"allowed {origin}", await first_outcome(url, origin=origin), ("message", "welcome"))
        for origin, what in LOOK_ALIKES:
            expect(f"{origin} ({what})", await first_outcome(url, origin=origin), ("HTTP", 403))
    finally:
        guarded.stop()
    # another allowed set: the one of the sample run is not built in
    guarded = serve(nb.make_guarded_app({"https://chat.example"}), name="check: origin-gate")
    try:
        url = guarded.ws_url + "/ws/guarded"
        expect("allowed https://chat.example, with allowed={'https://chat.example'}",
               await first_outcome(url, origin="https://chat.example"), ("message", "welcome"))
        expect("http://partner.example, with allowed={'https://chat.example'}",
               await first_outcome(url, origin="http://partner.example"), ("HTTP", 403))
    finally:
        guarded.stop()
