# Solutions to the exercises of 03_messaging.ipynb.
# Each section replaces the exercise cell of the same ID (tests/test_exercises.py runs them).

# %% exercise: tolerant-json
def make_tolerant_app() -> FastAPI:
    """A FastAPI app whose /ws/json answers bad input with an error and stays open."""
    tolerant_app = FastAPI(title="tolerant json")

    def problem_with(data) -> str | None:
        """Why this parsed message can't be used, or None when it can."""
        if not isinstance(data, dict):
            return "a message must be a JSON object"
        if data.get("type") not in ("ping", "message"):
            return f"unknown message type {data.get('type')!r}; expected 'ping' or 'message'"
        if data["type"] == "message" and not isinstance(data.get("message"), str):
            return "a 'message' needs a text field 'message'"
        return None

    @tolerant_app.websocket("/ws/json")
    async def tolerant_json(websocket: WebSocket):
        await websocket.accept()
        while True:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                return
            if event.get("text") is None:  # a binary message: not something a JSON endpoint can answer
                await websocket.close(code=1003, reason="binary not accepted")
                return
            try:
                data = json.loads(event["text"])
            except ValueError as exc:
                await websocket.send_json({"type": "error", "detail": f"malformed JSON: {exc}"})
                continue
            problem = problem_with(data)
            if problem:
                await websocket.send_json({"type": "error", "detail": problem})
            elif data["type"] == "ping":
                await websocket.send_json({"type": "pong"})
            else:
                await websocket.send_json({"type": "ack", "message": data["message"]})

    return tolerant_app

# %% exercise: countdown
from fastapi import Query


def make_countdown_app() -> FastAPI:
    """A FastAPI app with /ws/countdown?n=N as described above."""
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket, n: int = Query(ge=1, le=10)):
        await websocket.accept()
        for i in range(n, 0, -1):
            await websocket.send_bytes(bytes([i]))
        await websocket.send_json({"type": "liftoff"})
        await websocket.close(code=4000, reason="countdown over")

    return countdown_app
