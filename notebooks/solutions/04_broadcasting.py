"""Solutions to the exercises of notebooks/04_broadcasting.ipynb (one section per exercise cell)."""

# %% exercise: byte-budget
class BudgetOutbox(Outbox):
    # An unbounded queue (the manager keeps the budget) and the characters still waiting in it.

    def __init__(self, websocket: WebSocket):
        self.waiting = 0  # queued, or being sent: subtracted once send_text has returned
        super().__init__(websocket, limit=0)  # maxsize 0: no bound of its own

    async def write_all(self):
        try:
            while True:
                message = await self.queue.get()
                await self.websocket.send_text(message)
                self.waiting -= len(message)
        except Exception:
            pass  # the client is gone: its endpoint's receive sees it too, and disconnects it


class ByteBudgetManager(OutboxManager):
    # connect / disconnect / async broadcast / dropped, like OutboxManager; the limit counts characters waiting.

    def __init__(self, limit_bytes: int):
        super().__init__(limit=0)
        self.limit_bytes = limit_bytes

    async def connect(self, websocket: WebSocket):
        await websocket.accept()
        self.outboxes[websocket] = BudgetOutbox(websocket)

    async def broadcast(self, message: str):
        for websocket, outbox in list(self.outboxes.items()):
            if outbox.waiting + len(message) > self.limit_bytes:
                self.drop(websocket)  # OutboxManager.drop: forget, stop the writer, try a 1013
            else:
                outbox.waiting += len(message)
                outbox.queue.put_nowait(message)

# %% exercise: others
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
            manager.disconnect(websocket)  # first, so that the count is of those who remain
            await manager.broadcast(notice("leave", username))

    return app
