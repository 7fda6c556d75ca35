# Variants of the exercises of notebooks/02_endpoints.ipynb, for tests/test_exercises.py: each wrong one
# must get "not yet" from its check, each valid one "passed". Each section is the whole exercise cell.

# %% wrong: rooms-params: the pattern without its anchors, so a room that merely contains a match passes
def make_rooms_app() -> FastAPI:
    rooms_app = FastAPI(title="rooms")

    @rooms_app.websocket("/ws/rooms/{room}")
    async def room_endpoint(websocket: WebSocket, room: str = Path(pattern=r"[a-z0-9-]{1,32}"),
                            nick: str = Query(min_length=1, max_length=20)):
        await websocket.accept()
        await websocket.send_json({"room": room, "nick": nick})

    return rooms_app

# %% wrong: rooms-params: the nick optional, with a default, as name is in the first endpoint
def make_rooms_app() -> FastAPI:
    rooms_app = FastAPI(title="rooms")

    @rooms_app.websocket("/ws/rooms/{room}")
    async def room_endpoint(websocket: WebSocket, room: str = Path(pattern=r"^[a-z0-9-]{1,32}$"),
                            nick: str = Query("guest", min_length=1, max_length=20)):
        await websocket.accept()
        await websocket.send_json({"room": room, "nick": nick})

    return rooms_app

# %% wrong: rooms-params: max_length only, as in the first endpoint, so an empty nick passes
def make_rooms_app() -> FastAPI:
    rooms_app = FastAPI(title="rooms")

    @rooms_app.websocket("/ws/rooms/{room}")
    async def room_endpoint(websocket: WebSocket, room: str = Path(pattern=r"^[a-z0-9-]{1,32}$"),
                            nick: str = Query(max_length=20)):
        await websocket.accept()
        await websocket.send_json({"room": room, "nick": nick})

    return rooms_app

# %% wrong: rooms-params: validates after accept() and closes with 1008, instead of refusing the handshake
import re


def make_rooms_app() -> FastAPI:
    rooms_app = FastAPI(title="rooms")

    @rooms_app.websocket("/ws/rooms/{room}")
    async def room_endpoint(websocket: WebSocket, room: str, nick: str = ""):
        await websocket.accept()
        if not re.fullmatch(r"[a-z0-9-]{1,32}", room) or not 1 <= len(nick) <= 20:
            await websocket.close(code=1008, reason="invalid room or nick")
            return
        await websocket.send_json({"room": room, "nick": nick})

    return rooms_app

# %% wrong: rooms-params: sends the dict's Python repr, which is not JSON
def make_rooms_app() -> FastAPI:
    rooms_app = FastAPI(title="rooms")

    @rooms_app.websocket("/ws/rooms/{room}")
    async def room_endpoint(websocket: WebSocket, room: str = Path(pattern=r"^[a-z0-9-]{1,32}$"),
                            nick: str = Query(min_length=1, max_length=20)):
        await websocket.accept()
        await websocket.send_text(str({"room": room, "nick": nick}))

    return rooms_app

# %% valid: rooms-params: Annotated parameters, and json.dumps with spaces and the keys the other way round
import json
from typing import Annotated


def make_rooms_app() -> FastAPI:
    rooms_app = FastAPI(title="rooms")
    Room = Annotated[str, Path(pattern="^[a-z0-9-]{1,32}$")]
    Nick = Annotated[str, Query(min_length=1, max_length=20)]

    @rooms_app.websocket("/ws/rooms/{room}")
    async def room_endpoint(websocket: WebSocket, room: Room, nick: Nick):
        await websocket.accept()
        await websocket.send_text(json.dumps({"nick": nick, "room": room}, indent=2))

    return rooms_app

# %% valid: rooms-params: checked by hand with re.fullmatch, refused with close() before accept()
import re


def make_rooms_app() -> FastAPI:
    rooms_app = FastAPI(title="rooms")

    @rooms_app.websocket("/ws/rooms/{room}")
    async def room_endpoint(websocket: WebSocket, room: str):
        nick = websocket.query_params.get("nick")
        if re.fullmatch(r"[a-z0-9-]{1,32}", room) is None or nick is None or not 1 <= len(nick) <= 20:
            await websocket.close(code=1008)  # before accept(): HTTP 403
            return
        await websocket.accept()
        await websocket.send_json({"room": room, "nick": nick})

    return rooms_app

# %% wrong: api-key: refuses before accepting, so the client gets a bare 403 and no reason
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")

    def key_owner(x_api_key: str | None = Header(None)) -> str:
        if not x_api_key:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="missing API key")
        if x_api_key not in API_KEYS:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="unknown API key")
        return API_KEYS[x_api_key]

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, user: str = Depends(key_owner)):
        await websocket.accept()
        await websocket.send_json({"type": "welcome", "user": user})

    return keyed_app

# %% wrong: api-key: one reason for both refusals
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")

    async def key_owner(websocket: WebSocket, x_api_key: str | None = Header(None)) -> str:
        if x_api_key in API_KEYS:
            return API_KEYS[x_api_key]
        await websocket.accept()
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="unknown API key")

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, user: str = Depends(key_owner)):
        await websocket.accept()
        await websocket.send_json({"type": "welcome", "user": user})

    return keyed_app

# %% wrong: api-key: the keys of the sample run written into the code, not looked up in API_KEYS
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")
    owners = {"k-ada-0001": "ada", "k-bob-0002": "bob"}

    async def key_owner(websocket: WebSocket, x_api_key: str | None = Header(None)) -> str:
        if x_api_key in owners:
            return owners[x_api_key]
        await websocket.accept()
        reason = "missing API key" if x_api_key is None else "unknown API key"
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason)

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, user: str = Depends(key_owner)):
        await websocket.accept()
        await websocket.send_json({"type": "welcome", "user": user})

    return keyed_app

# %% wrong: api-key: accepts and welcomes everyone, then closes the ones without a valid key
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, x_api_key: str | None = Header(None)):
        await websocket.accept()
        user = API_KEYS.get(x_api_key)
        await websocket.send_json({"type": "welcome", "user": user})
        if user is None:
            reason = "missing API key" if x_api_key is None else "unknown API key"
            await websocket.close(code=1008, reason=reason)

    return keyed_app

# %% wrong: api-key: compares keys without case, so K-BOB-0002 is bob's
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")

    async def key_owner(websocket: WebSocket, x_api_key: str | None = Header(None)) -> str:
        if x_api_key and x_api_key.lower() in API_KEYS:
            return API_KEYS[x_api_key.lower()]
        await websocket.accept()
        reason = "missing API key" if not x_api_key else "unknown API key"
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason)

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, user: str = Depends(key_owner)):
        await websocket.accept()
        await websocket.send_json({"type": "welcome", "user": user})

    return keyed_app

# %% valid: api-key: no dependency, the header read in the endpoint; json.dumps, keys in another order
import json

API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket):
        key = websocket.headers.get("x-api-key")
        await websocket.accept()
        if key is None:
            await websocket.close(code=1008, reason="missing API key")
        elif key not in API_KEYS:
            await websocket.close(code=1008, reason="unknown API key")
        else:
            await websocket.send_text(json.dumps({"user": API_KEYS[key], "type": "welcome"}))

    return keyed_app

# %% wrong: origin-gate: startswith, which lets http://partner.example.evil.com in
def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin is not None and not any(origin.startswith(a) for a in allowed):
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% wrong: origin-gate: compares host names only, so another scheme or port passes
from urllib.parse import urlsplit


def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")
    hosts = {urlsplit(a).hostname for a in allowed}

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin is not None and urlsplit(origin).hostname not in hosts:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% wrong: origin-gate: endswith the allowed host, which lets evilpartner.example in
from urllib.parse import urlsplit


def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin is None or origin in allowed:
            return
        if not any(origin.endswith(urlsplit(a).netloc) and origin.startswith(urlsplit(a).scheme + "://")
                   for a in allowed):
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% wrong: origin-gate: refuses after accepting (close 1008), not at the handshake
def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")

    @guarded_app.websocket("/ws/guarded")
    async def guarded(websocket: WebSocket, origin: str | None = Header(None)):
        await websocket.accept()
        if origin is not None and origin not in allowed:
            await websocket.close(code=1008, reason="origin not allowed")
            return
        await websocket.send_text("welcome")

    return guarded_app

# %% wrong: origin-gate: the partner of the sample run written in, whatever allowed holds
def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin not in (None, "http://partner.example"):
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% wrong: origin-gate: a script (no Origin) refused too
def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin not in allowed:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% valid: origin-gate: checked in the endpoint from websocket.headers, refused with close() before accept()
def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")
    exact = frozenset(allowed)

    @guarded_app.websocket("/ws/guarded")
    async def guarded(websocket: WebSocket):
        origin = websocket.headers.get("origin")
        if origin is not None and origin not in exact:
            await websocket.close(code=1008)  # before accept(): HTTP 403
            return
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% wrong: api-key: a copy of API_KEYS taken when the app is made (a key revoked while it runs still works)
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")
    known = dict(API_KEYS)  # looked up once, at startup

    async def key_owner(websocket: WebSocket, x_api_key: str | None = Header(None)) -> str:
        if x_api_key in known:
            return known[x_api_key]
        await websocket.accept()
        reason = "missing API key" if x_api_key is None else "unknown API key"
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason)

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, user: str = Depends(key_owner)):
        await websocket.accept()
        await websocket.send_json({"type": "welcome", "user": user})

    return keyed_app

# %% wrong: api-key: closes with the reason but no return after it, so the endpoint goes on and raises
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, x_api_key: str | None = Header(None)):
        await websocket.accept()
        if x_api_key is None:
            await websocket.close(code=1008, reason="missing API key")
        if x_api_key not in API_KEYS:
            await websocket.close(code=1008, reason="unknown API key")
        await websocket.send_json({"type": "welcome", "user": API_KEYS[x_api_key]})

    return keyed_app

# %% wrong: api-key: checks the unknown key first, so a missing key (None) is "unknown" too
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")

    async def key_owner(websocket: WebSocket, x_api_key: str | None = Header(None)) -> str:
        if x_api_key not in API_KEYS:
            await websocket.accept()
            raise WebSocketException(code=1008, reason="unknown API key")
        if x_api_key is None:
            await websocket.accept()
            raise WebSocketException(code=1008, reason="missing API key")
        return API_KEYS[x_api_key]

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, user: str = Depends(key_owner)):
        await websocket.accept()
        await websocket.send_json({"type": "welcome", "user": user})

    return keyed_app

# %% valid: api-key: a callable class as the dependency, API_KEYS read through .get at each connect
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


class KeyGate:
    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    async def __call__(self, websocket: WebSocket, x_api_key: str | None = Header(None)) -> str:
        user = self.keys.get(x_api_key) if x_api_key is not None else None
        if user is not None:
            return user
        await websocket.accept()
        why = "missing" if x_api_key is None else "unknown"
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=f"{why} API key")


def make_keyed_app() -> FastAPI:
    keyed_app = FastAPI(title="keyed")

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, user: str = Depends(KeyGate(API_KEYS))):
        await websocket.accept()
        await websocket.send_text('{"user":"%s","type":"welcome"}' % user)

    return keyed_app

# %% wrong: origin-gate: re.fullmatch against each allowed origin, its dots unescaped (a dot matches any character)
import re


def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin is not None and not any(re.fullmatch(a, origin) for a in allowed):
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% wrong: origin-gate: normalises with urlsplit (scheme, hostname, port), so a path or a user part passes
from urllib.parse import urlsplit


def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")

    def key(url: str):
        parts = urlsplit(url)
        return parts.scheme, parts.hostname, parts.port

    allowed_keys = {key(a) for a in allowed}

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin is not None and key(origin) not in allowed_keys:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% wrong: origin-gate: the origin searched in one string of the allowed ones (a piece of one passes)
def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")
    allowed_text = " ".join(sorted(allowed))

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin is not None and origin not in allowed_text:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app

# %% valid: origin-gate: a pure ASGI middleware class that refuses the handshake with websocket.close
class OriginGate:
    def __init__(self, app, allowed: set[str]) -> None:
        self.app, self.allowed = app, frozenset(allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            origin = dict(scope["headers"]).get(b"origin")
            if origin is not None and origin.decode("latin-1") not in self.allowed:
                await receive()  # the websocket.connect event
                await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
                return
        await self.app(scope, receive, send)


def make_guarded_app(allowed: set[str]) -> FastAPI:
    guarded_app = FastAPI(title="guarded")
    guarded_app.add_middleware(OriginGate, allowed=allowed)

    @guarded_app.websocket("/ws/guarded")
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app
