# Solutions to the exercises of 08_realtime_apps.ipynb.
# Each section replaces the exercise cell of the same ID (tests/test_exercises.py runs them).

# %% exercise: ticker
def make_ticker_app() -> FastAPI:
    """A FastAPI app with /ws/ticker as described above."""
    ticker_app = FastAPI(title="ticker")

    @ticker_app.websocket("/ws/ticker")
    async def ticker(websocket: WebSocket, interval: float = 0.05):
        await websocket.accept()
        walks = {}  # symbol -> its random walk, made when subscribed
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        try:
            while True:
                await websocket.send_json({"prices": {s: walk()["price"] for s, walk in walks.items()}})
                next_tick += interval
                try:
                    async with asyncio.timeout_at(next_tick):
                        while True:
                            message = await websocket.receive_json()
                            if "subscribe" in message:
                                walks.setdefault(message["subscribe"], random_walk(message["subscribe"]))
                            elif "unsubscribe" in message:
                                walks.pop(message["unsubscribe"], None)
                except TimeoutError:
                    pass  # the next tick is due
        except WebSocketDisconnect:
            pass

    return ticker_app

# %% exercise: transform-insert
def transform_insert(op: dict, applied: dict, op_first: bool) -> dict:
    """`op` moved over the insert `applied`, as described above."""
    if applied["pos"] < op["pos"] or (applied["pos"] == op["pos"] and not op_first):
        return {"pos": op["pos"] + len(applied["text"]), "text": op["text"]}
    return dict(op)
