"""Variants of the exercises of notebooks/04_broadcasting.ipynb: wrong ones (must get "not yet") and valid
ones in another style (must get "passed"). Each section is the whole exercise cell."""

# %% wrong: byte-budget: broadcast awaits each send_text in turn, counting characters sent (the tutorial loop)
class ByteBudgetManager(ConnectionManager):
    # connect / disconnect / async broadcast / dropped, like OutboxManager; the limit counts characters waiting.

    def __init__(self, limit_bytes: int):
        super().__init__()
        self.limit_bytes = limit_bytes
        self.dropped: list[str] = []

    async def broadcast(self, message: str):
        for websocket in list(self.active):
            try:
                await websocket.send_text(message)
            except Exception:
                self.disconnect(websocket)

# %% wrong: byte-budget: subtracts when the writer takes a message from the queue, before send_text has returned
class CountingOutbox(Outbox):
    def __init__(self, websocket: WebSocket):
        self.waiting = 0
        super().__init__(websocket, limit=0)

    async def write_all(self):
        try:
            while True:
                message = await self.queue.get()
                self.waiting -= len(message)
                await self.websocket.send_text(message)
        except Exception:
            pass


class ByteBudgetManager(OutboxManager):
    # connect / disconnect / async broadcast / dropped, like OutboxManager; the limit counts characters waiting.

    def __init__(self, limit_bytes: int):
        super().__init__(limit=0)
        self.limit_bytes = limit_bytes

    async def connect(self, websocket: WebSocket):
        await websocket.accept()
        self.outboxes[websocket] = CountingOutbox(websocket)

    async def broadcast(self, message: str):
        for websocket, outbox in list(self.outboxes.items()):
            if outbox.waiting + len(message) > self.limit_bytes:
                self.drop(websocket)
            else:
                outbox.waiting += len(message)
                outbox.queue.put_nowait(message)

# %% wrong: byte-budget: drops when the waiting characters reach the budget (>= instead of >)
class CountingOutbox(Outbox):
    def __init__(self, websocket: WebSocket):
        self.waiting = 0
        super().__init__(websocket, limit=0)

    async def write_all(self):
        try:
            while True:
                message = await self.queue.get()
                await self.websocket.send_text(message)
                self.waiting -= len(message)
        except Exception:
            pass


class ByteBudgetManager(OutboxManager):
    # connect / disconnect / async broadcast / dropped, like OutboxManager; the limit counts characters waiting.

    def __init__(self, limit_bytes: int):
        super().__init__(limit=0)
        self.limit_bytes = limit_bytes

    async def connect(self, websocket: WebSocket):
        await websocket.accept()
        self.outboxes[websocket] = CountingOutbox(websocket)

    async def broadcast(self, message: str):
        for websocket, outbox in list(self.outboxes.items()):
            if outbox.waiting + len(message) >= self.limit_bytes:
                self.drop(websocket)
            else:
                outbox.waiting += len(message)
                outbox.queue.put_nowait(message)

# %% wrong: byte-budget: never subtracts: counts every character ever queued, so a healthy client is dropped too
class ByteBudgetManager(OutboxManager):
    # connect / disconnect / async broadcast / dropped, like OutboxManager; the limit counts characters waiting.

    def __init__(self, limit_bytes: int):
        super().__init__(limit=0)
        self.limit_bytes = limit_bytes
        self.queued: dict[WebSocket, int] = {}

    async def broadcast(self, message: str):
        for websocket, outbox in list(self.outboxes.items()):
            total = self.queued.get(websocket, 0) + len(message)
            if total > self.limit_bytes:
                self.drop(websocket)
            else:
                self.queued[websocket] = total
                outbox.queue.put_nowait(message)

# %% wrong: byte-budget: its own drop forgets the connection but leaves its writer running
class CountingOutbox(Outbox):
    def __init__(self, websocket: WebSocket):
        self.waiting = 0
        super().__init__(websocket, limit=0)

    async def write_all(self):
        try:
            while True:
                message = await self.queue.get()
                await self.websocket.send_text(message)
                self.waiting -= len(message)
        except Exception:
            pass


class ByteBudgetManager(OutboxManager):
    # connect / disconnect / async broadcast / dropped, like OutboxManager; the limit counts characters waiting.

    def __init__(self, limit_bytes: int):
        super().__init__(limit=0)
        self.limit_bytes = limit_bytes

    async def connect(self, websocket: WebSocket):
        await websocket.accept()
        self.outboxes[websocket] = CountingOutbox(websocket)

    async def broadcast(self, message: str):
        for websocket, outbox in list(self.outboxes.items()):
            if outbox.waiting + len(message) > self.limit_bytes:
                self.outboxes.pop(websocket, None)
                self.dropped.append(websocket.query_params.get("username", "?"))
                task = asyncio.create_task(close_within(websocket, 1013, "too slow", 1.0))
                self.closing.add(task)
                task.add_done_callback(self.closing.discard)
            else:
                outbox.waiting += len(message)
                outbox.queue.put_nowait(message)

# %% valid: byte-budget: from scratch, no subclass: a queue, a count and a writer per connection, in a small class
class Line:
    def __init__(self, websocket: WebSocket):
        self.websocket, self.queue, self.waiting = websocket, asyncio.Queue(), 0
        self.writer = asyncio.create_task(self.run())

    async def run(self):
        while True:
            message = await self.queue.get()
            try:
                await self.websocket.send_text(message)
            except Exception:
                return
            finally:
                self.waiting -= len(message)


class ByteBudgetManager:
    # connect / disconnect / async broadcast / dropped, like OutboxManager; the limit counts characters waiting.

    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        self.lines: dict[WebSocket, Line] = {}
        self.dropped: list[str] = []
        self.closing: set[asyncio.Task] = set()

    async def connect(self, websocket: WebSocket):
        await websocket.accept()
        self.lines[websocket] = Line(websocket)

    def disconnect(self, websocket: WebSocket):
        line = self.lines.pop(websocket, None)
        if line is not None:
            line.writer.cancel()

    async def broadcast(self, message: str):
        for websocket, line in list(self.lines.items()):
            if line.waiting + len(message) <= self.limit_bytes:
                line.waiting += len(message)
                line.queue.put_nowait(message)
                continue
            self.disconnect(websocket)
            self.dropped.append(websocket.query_params.get("username", "?"))
            task = asyncio.create_task(close_within(websocket, 1013, "too slow", 1.0))
            self.closing.add(task)
            task.add_done_callback(self.closing.discard)

# %% wrong: others: the tutorial loop with an exclude: each send_text awaited in turn (a stalled client holds all)
class ExcludingLoop(ConnectionManager):
    async def broadcast(self, message: str, exclude: WebSocket | None = None):
        for websocket in list(self.active):
            if websocket is exclude:
                continue
            try:
                await websocket.send_text(message)
            except Exception:
                self.disconnect(websocket)


def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = ExcludingLoop()
    app = FastAPI(title="others")

    def notice(kind: str, username: str) -> str:
        return json.dumps({"type": kind, "username": username, "count": len(manager.active)})

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        await manager.broadcast(notice("join", username), exclude=websocket)
        try:
            while True:
                data = await websocket.receive_json()
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text, exclude=websocket)
        except WebSocketDisconnect:
            pass
        finally:
            manager.disconnect(websocket)
            await manager.broadcast(notice("leave", username))

    return app

# %% wrong: others: asyncio.gather over the sends, with an exclude (it still waits for the slowest)
class ExcludingGather(GatherManager):
    async def broadcast(self, message: str, exclude: WebSocket | None = None):
        targets = [ws for ws in self.active if ws is not exclude]
        results = await asyncio.gather(*(ws.send_text(message) for ws in targets), return_exceptions=True)
        for websocket, result in zip(targets, results):
            if isinstance(result, Exception):
                self.disconnect(websocket)


def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = ExcludingGather()
    app = FastAPI(title="others")

    def notice(kind: str, username: str) -> str:
        return json.dumps({"type": kind, "username": username, "count": len(manager.active)})

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        await manager.broadcast(notice("join", username), exclude=websocket)
        try:
            while True:
                data = await websocket.receive_json()
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text, exclude=websocket)
        except WebSocketDisconnect:
            pass
        finally:
            manager.disconnect(websocket)
            await manager.broadcast(notice("leave", username))

    return app

# %% wrong: others: messages go back to the sender too, as /ws/broadcast does
def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = OutboxManager()
    app = FastAPI(title="others")

    async def to_others(text: str, exclude: WebSocket):
        for websocket, outbox in list(manager.outboxes.items()):
            if websocket is not exclude:
                try:
                    outbox.queue.put_nowait(text)
                except asyncio.QueueFull:
                    manager.drop(websocket)

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        await to_others(json.dumps({"type": "join", "username": username, "count": len(manager.outboxes)}), websocket)
        try:
            while True:
                data = await websocket.receive_json()
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text)
        except WebSocketDisconnect:
            pass
        finally:
            manager.disconnect(websocket)
            await manager.broadcast(json.dumps({"type": "leave", "username": username, "count": len(manager.outboxes)}))

    return app

# %% wrong: others: announces the join before connecting (the count misses the newcomer)
class OthersManager(OutboxManager):
    async def broadcast(self, message: str, exclude: WebSocket | None = None):
        for websocket, outbox in list(self.outboxes.items()):
            if websocket is exclude:
                continue
            try:
                outbox.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.drop(websocket)


def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = OthersManager()
    app = FastAPI(title="others")

    def notice(kind: str, username: str) -> str:
        return json.dumps({"type": kind, "username": username, "count": len(manager.outboxes)})

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.broadcast(notice("join", username))
        await manager.connect(websocket)
        try:
            while True:
                data = await websocket.receive_json()
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text, exclude=websocket)
        except WebSocketDisconnect:
            pass
        finally:
            manager.disconnect(websocket)
            await manager.broadcast(notice("leave", username))

    return app

# %% wrong: others: announces the leave before disconnecting (the count still includes the leaver)
class OthersManager(OutboxManager):
    async def broadcast(self, message: str, exclude: WebSocket | None = None):
        for websocket, outbox in list(self.outboxes.items()):
            if websocket is exclude:
                continue
            try:
                outbox.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.drop(websocket)


def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = OthersManager()
    app = FastAPI(title="others")

    def notice(kind: str, username: str) -> str:
        return json.dumps({"type": kind, "username": username, "count": len(manager.outboxes)})

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        await manager.broadcast(notice("join", username), exclude=websocket)
        try:
            while True:
                data = await websocket.receive_json()
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text, exclude=websocket)
        except WebSocketDisconnect:
            pass
        finally:
            await manager.broadcast(notice("leave", username), exclude=websocket)
            manager.disconnect(websocket)

    return app

# %% wrong: others: puts into the outboxes directly, no drop (a full outbox raises QueueFull in the sender's handler)
def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = OutboxManager()
    app = FastAPI(title="others")

    def to_others(kind: str, username: str, exclude=None, **fields):
        text = json.dumps({"type": kind, "username": username, **fields})
        for websocket, outbox in list(manager.outboxes.items()):
            if websocket is not exclude:
                outbox.queue.put_nowait(text)

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        to_others("join", username, websocket, count=len(manager.outboxes))
        try:
            while True:
                data = await websocket.receive_json()
                to_others("message", username, websocket, message=data["message"])
        except WebSocketDisconnect:
            pass
        finally:
            manager.disconnect(websocket)
            to_others("leave", username, count=len(manager.outboxes))

    return app

# %% valid: others: the exclude as a set of connections, and the notices built by the manager
class Others(OutboxManager):
    async def broadcast(self, message: str, exclude: set | frozenset = frozenset()):
        for websocket in [ws for ws in self.outboxes if ws not in exclude]:
            try:
                self.outboxes[websocket].queue.put_nowait(message)
            except asyncio.QueueFull:
                self.drop(websocket)

    async def announce(self, kind: str, username: str, exclude: set | frozenset = frozenset()):
        await self.broadcast(json.dumps({"type": kind, "username": username, "count": len(self.outboxes)}), exclude)


def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = Others()
    app = FastAPI(title="others")

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        await manager.announce("join", username, exclude={websocket})
        try:
            async for data in websocket.iter_json():
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text, exclude={websocket})
        finally:
            manager.disconnect(websocket)
            await manager.announce("leave", username)

    return app

# %% wrong: others: leaves out the connections with the sender's username (two "anonymous" users never hear each other)
class NamedOthers(OutboxManager):
    def __init__(self, limit: int = 100):
        super().__init__(limit)
        self.names: dict[WebSocket, str] = {}

    async def broadcast(self, message: str, exclude: WebSocket | None = None):
        skip = self.names.get(exclude)
        for websocket, outbox in list(self.outboxes.items()):
            if skip is not None and self.names.get(websocket) == skip:
                continue
            try:
                outbox.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.drop(websocket)


def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = NamedOthers()
    app = FastAPI(title="others")

    def notice(kind: str, username: str) -> str:
        return json.dumps({"type": kind, "username": username, "count": len(manager.outboxes)})

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        manager.names[websocket] = username
        await manager.broadcast(notice("join", username), exclude=websocket)
        try:
            while True:
                data = await websocket.receive_json()
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text, exclude=websocket)
        except WebSocketDisconnect:
            pass
        finally:
            manager.disconnect(websocket)
            await manager.broadcast(notice("leave", username))

    return app

# %% wrong: others: awaits queue.put() (a full outbox makes the sender wait for the client that stopped reading)
class WaitingOthers(OutboxManager):
    async def broadcast(self, message: str, exclude: WebSocket | None = None):
        for websocket, outbox in list(self.outboxes.items()):
            if websocket is not exclude:
                await outbox.queue.put(message)


def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = WaitingOthers()
    app = FastAPI(title="others")

    def notice(kind: str, username: str) -> str:
        return json.dumps({"type": kind, "username": username, "count": len(manager.outboxes)})

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        await manager.broadcast(notice("join", username), exclude=websocket)
        try:
            while True:
                data = await websocket.receive_json()
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text, exclude=websocket)
        except WebSocketDisconnect:
            pass
        finally:
            manager.disconnect(websocket)
            await manager.broadcast(notice("leave", username))

    return app

# %% valid: others: the sender's outbox set aside while OutboxManager's broadcast runs (it never awaits)
class AsideOthers(OutboxManager):
    async def broadcast(self, message: str, exclude: WebSocket | None = None):
        aside = self.outboxes.pop(exclude, None)
        try:
            await super().broadcast(message)
        finally:
            if aside is not None:
                self.outboxes[exclude] = aside


def make_others_app() -> FastAPI:
    # An app with /ws/others?username=U, as described above, on an OutboxManager that can exclude.
    manager = AsideOthers()
    app = FastAPI(title="others")

    def notice(kind: str, username: str) -> str:
        return json.dumps({"type": kind, "username": username, "count": len(manager.outboxes)})

    @app.websocket("/ws/others")
    async def others(websocket: WebSocket, username: str = "anonymous"):
        await manager.connect(websocket)
        await manager.broadcast(notice("join", username), exclude=websocket)
        try:
            while True:
                data = await websocket.receive_json()
                text = json.dumps({"type": "message", "username": username, "message": data["message"]})
                await manager.broadcast(text, exclude=websocket)
        except WebSocketDisconnect:
            pass
        finally:
            manager.disconnect(websocket)
            await manager.broadcast(notice("leave", username))

    return app
