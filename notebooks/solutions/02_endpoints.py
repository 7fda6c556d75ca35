# Solutions to the exercises of 02_endpoints.ipynb.
# Each section replaces the exercise cell of the same ID (tests/test_exercises.py runs them).

# %% exercise: rooms-params
def make_rooms_app() -> FastAPI:
    """A FastAPI app with /ws/rooms/{room}?nick=... as described above."""
    rooms_app = FastAPI(title="rooms")

    @rooms_app.websocket("/ws/rooms/{room}")
    async def room_endpoint(websocket: WebSocket,
                            room: str = Path(pattern=r"^[a-z0-9-]{1,32}$"),
                            nick: str = Query(min_length=1, max_length=20)):
        # FastAPI has checked both before this line runs: a bad one never gets here (HTTP 403).
        await websocket.accept()
        await websocket.send_json({"room": room, "nick": nick})

    return rooms_app

# %% exercise: api-key
API_KEYS = {"k-ada-0001": "ada", "k-bob-0002": "bob"}


def make_keyed_app() -> FastAPI:
    """A FastAPI app with /ws/keyed as described above."""
    keyed_app = FastAPI(title="keyed")

    async def key_owner(websocket: WebSocket, x_api_key: str | None = Header(None)) -> str:
        if x_api_key in API_KEYS:
            return API_KEYS[x_api_key]
        await websocket.accept()  # accept first, so that the client gets the close frame and its reason
        reason = "missing API key" if not x_api_key else "unknown API key"
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason)

    @keyed_app.websocket("/ws/keyed")
    async def keyed(websocket: WebSocket, user: str = Depends(key_owner)):
        await websocket.accept()
        await websocket.send_json({"type": "welcome", "user": user})

    return keyed_app

# %% exercise: origin-gate
def make_guarded_app(allowed: set[str]) -> FastAPI:
    """A FastAPI app with /ws/guarded as described above."""
    guarded_app = FastAPI(title="guarded")

    def origin_allowed(origin: str | None = Header(None)) -> None:
        if origin is not None and origin not in allowed:
            # raised before accept(): the handshake is refused with HTTP 403
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    @guarded_app.websocket("/ws/guarded", dependencies=[Depends(origin_allowed)])
    async def guarded(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    return guarded_app
