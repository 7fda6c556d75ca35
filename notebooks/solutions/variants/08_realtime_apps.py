# Variants of the exercises of 08_realtime_apps.ipynb: wrong solutions learners write (each must get
# "not yet") and valid ones in another style (each must get "passed"). tests/test_exercises.py runs them.

# %% wrong: ticker: a reader task for the subscriptions, and send-then-sleep for the ticks (ends an interval late)
def make_ticker_app() -> FastAPI:
    """A FastAPI app with /ws/ticker as described above."""
    ticker_app = FastAPI(title="ticker")

    @ticker_app.websocket("/ws/ticker")
    async def ticker(websocket: WebSocket, interval: float = 0.05):
        await websocket.accept()
        walks = {}

        async def listen():
            while True:
                message = await websocket.receive_json()
                if "subscribe" in message:
                    walks.setdefault(message["subscribe"], random_walk(message["subscribe"]))
                elif "unsubscribe" in message:
                    walks.pop(message["unsubscribe"], None)

        listener = asyncio.create_task(listen())
        try:
            while True:
                await websocket.send_json({"prices": {s: walk()["price"] for s, walk in walks.items()}})
                await asyncio.sleep(interval)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            listener.cancel()

    return ticker_app

# %% wrong: ticker: waits for a client message with no deadline (no tick while the client is silent)
def make_ticker_app() -> FastAPI:
    """A FastAPI app with /ws/ticker as described above."""
    ticker_app = FastAPI(title="ticker")

    @ticker_app.websocket("/ws/ticker")
    async def ticker(websocket: WebSocket, interval: float = 0.05):
        await websocket.accept()
        walks = {}
        try:
            while True:
                await websocket.send_json({"prices": {s: walk()["price"] for s, walk in walks.items()}})
                message = await websocket.receive_json()
                if "subscribe" in message:
                    walks.setdefault(message["subscribe"], random_walk(message["subscribe"]))
                elif "unsubscribe" in message:
                    walks.pop(message["unsubscribe"], None)
        except WebSocketDisconnect:
            pass

    return ticker_app

# %% wrong: ticker: a deadline of one interval from each message (a client that talks stops the ticks)
def make_ticker_app() -> FastAPI:
    """A FastAPI app with /ws/ticker as described above."""
    ticker_app = FastAPI(title="ticker")

    @ticker_app.websocket("/ws/ticker")
    async def ticker(websocket: WebSocket, interval: float = 0.05):
        await websocket.accept()
        walks = {}
        try:
            while True:
                await websocket.send_json({"prices": {s: walk()["price"] for s, walk in walks.items()}})
                try:
                    while True:
                        async with asyncio.timeout(interval):
                            message = await websocket.receive_json()
                        if "subscribe" in message:
                            walks.setdefault(message["subscribe"], random_walk(message["subscribe"]))
                        elif "unsubscribe" in message:
                            walks.pop(message["unsubscribe"], None)
                except TimeoutError:
                    pass
        except WebSocketDisconnect:
            pass

    return ticker_app

# %% wrong: ticker: makes a new random_walk at every tick (the price never moves)
def make_ticker_app() -> FastAPI:
    """A FastAPI app with /ws/ticker as described above."""
    ticker_app = FastAPI(title="ticker")

    @ticker_app.websocket("/ws/ticker")
    async def ticker(websocket: WebSocket, interval: float = 0.05):
        await websocket.accept()
        symbols = set()
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        try:
            while True:
                await websocket.send_json({"prices": {s: random_walk(s)()["price"] for s in symbols}})
                next_tick += interval
                try:
                    async with asyncio.timeout_at(next_tick):
                        while True:
                            message = await websocket.receive_json()
                            if "subscribe" in message:
                                symbols.add(message["subscribe"])
                            elif "unsubscribe" in message:
                                symbols.discard(message["unsubscribe"])
                except TimeoutError:
                    pass
        except WebSocketDisconnect:
            pass

    return ticker_app

# %% wrong: ticker: del walks[symbol] on unsubscribe (a symbol never subscribed raises KeyError)
def make_ticker_app() -> FastAPI:
    """A FastAPI app with /ws/ticker as described above."""
    ticker_app = FastAPI(title="ticker")

    @ticker_app.websocket("/ws/ticker")
    async def ticker(websocket: WebSocket, interval: float = 0.05):
        await websocket.accept()
        walks = {}
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
                                walks[message["subscribe"]] = random_walk(message["subscribe"])
                            elif "unsubscribe" in message:
                                del walks[message["unsubscribe"]]
                except TimeoutError:
                    pass
        except WebSocketDisconnect:
            pass

    return ticker_app

# %% valid: ticker: a reader task that updates the subscriptions; the ticks wait on it with asyncio.wait
def make_ticker_app() -> FastAPI:
    """A FastAPI app with /ws/ticker as described above."""
    app = FastAPI(title="ticker, with a reader task")

    @app.websocket("/ws/ticker")
    async def ticker(websocket: WebSocket, interval: float = 0.05):
        await websocket.accept()
        walks: dict = {}

        async def read_subscriptions() -> None:
            async for message in websocket.iter_json():  # ends when the client leaves
                if symbol := message.get("subscribe"):
                    if symbol not in walks:
                        walks[symbol] = random_walk(symbol)
                if symbol := message.get("unsubscribe"):
                    walks.pop(symbol, None)

        reader = asyncio.create_task(read_subscriptions())
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while not reader.done():
                await websocket.send_json({"prices": {s: w()["price"] for s, w in list(walks.items())}})
                due += interval
                await asyncio.wait({reader}, timeout=max(0.0, due - loop.time()))
        except (WebSocketDisconnect, RuntimeError):  # the client left during a send
            pass
        finally:
            reader.cancel()

    return app

# %% wrong: transform-insert: a tie always moves op behind (both sides move: they diverge)
def transform_insert(op: dict, applied: dict, op_first: bool) -> dict:
    """`op` moved over the insert `applied`, as described above."""
    if applied["pos"] <= op["pos"]:
        return {"pos": op["pos"] + len(applied["text"]), "text": op["text"]}
    return dict(op)

# %% wrong: transform-insert: a tie never moves op (neither side moves: they diverge)
def transform_insert(op: dict, applied: dict, op_first: bool) -> dict:
    """`op` moved over the insert `applied`, as described above."""
    if applied["pos"] < op["pos"]:
        return {"pos": op["pos"] + len(applied["text"]), "text": op["text"]}
    return dict(op)

# %% wrong: transform-insert: op_first read the other way round
def transform_insert(op: dict, applied: dict, op_first: bool) -> dict:
    """`op` moved over the insert `applied`, as described above."""
    if applied["pos"] < op["pos"] or (applied["pos"] == op["pos"] and op_first):
        return {"pos": op["pos"] + len(applied["text"]), "text": op["text"]}
    return dict(op)

# %% wrong: transform-insert: moves op in place and returns it
def transform_insert(op: dict, applied: dict, op_first: bool) -> dict:
    """`op` moved over the insert `applied`, as described above."""
    if applied["pos"] < op["pos"] or (applied["pos"] == op["pos"] and not op_first):
        op["pos"] += len(applied["text"])
    return op

# %% wrong: transform-insert: moves op by applied's position instead of its length
def transform_insert(op: dict, applied: dict, op_first: bool) -> dict:
    """`op` moved over the insert `applied`, as described above."""
    if applied["pos"] < op["pos"] or (applied["pos"] == op["pos"] and not op_first):
        return {"pos": op["pos"] + applied["pos"], "text": op["text"]}
    return dict(op)

# %% wrong: transform-insert: the example's case only (moves op when applied is before it, by one word)
def transform_insert(op: dict, applied: dict, op_first: bool) -> dict:
    """`op` moved over the insert `applied`, as described above."""
    if applied["pos"] < op["pos"] or (applied["pos"] == op["pos"] and not op_first):
        return {"pos": op["pos"] + len(applied["text"].split()[0]) + 1, "text": op["text"]}
    return dict(op)

# %% valid: transform-insert: one comparison of (position, tie-break) pairs, and {**op}
def transform_insert(op: dict, applied: dict, op_first: bool) -> dict:
    """`op` moved over the insert `applied`, as described above."""
    applied_goes_first = (applied["pos"], op_first) < (op["pos"], True)
    return {**op, "pos": op["pos"] + len(applied["text"]) * applied_goes_first}
