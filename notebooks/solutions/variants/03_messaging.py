# Variants of the exercises of notebooks/03_messaging.ipynb, for tests/test_exercises.py: each wrong one
# must get "not yet" from its check, each valid one "passed". Each section is the whole exercise cell.

# %% wrong: tolerant-json: the notebook's fixed endpoint: any fault is an error message, then close 1011
def make_tolerant_app() -> FastAPI:
    tolerant_app = FastAPI(title="tolerant json")

    @tolerant_app.websocket("/ws/json")
    async def tolerant_json(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                data = await websocket.receive_json()
                if data["type"] == "ping":
                    await websocket.send_json({"type": "pong"})
                elif data["type"] == "message":
                    await websocket.send_json({"type": "ack", "message": data["message"]})
        except WebSocketDisconnect:
            pass
        except Exception:
            await websocket.send_json({"type": "error", "detail": "internal error"})
            await websocket.close(code=1011, reason="internal error")

    return tolerant_app

# %% wrong: tolerant-json: an unknown type falls through the elif chain, unanswered
def make_tolerant_app() -> FastAPI:
    tolerant_app = FastAPI(title="tolerant json")

    @tolerant_app.websocket("/ws/json")
    async def tolerant_json(websocket: WebSocket):
        await websocket.accept()
        while True:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                return
            if event.get("text") is None:
                await websocket.close(code=1003, reason="binary not accepted")
                return
            try:
                data = json.loads(event["text"])
            except ValueError:
                await websocket.send_json({"type": "error", "detail": "malformed JSON"})
                continue
            if not isinstance(data, dict) or "type" not in data:
                await websocket.send_json({"type": "error", "detail": "a message needs a type"})
            elif data["type"] == "ping":
                await websocket.send_json({"type": "pong"})
            elif data["type"] == "message":
                if "message" in data:
                    await websocket.send_json({"type": "ack", "message": data["message"]})
                else:
                    await websocket.send_json({"type": "error", "detail": "no message field"})

    return tolerant_app

# %% wrong: tolerant-json: data.get() without checking it is an object (an array or a string crashes it)
def make_tolerant_app() -> FastAPI:
    tolerant_app = FastAPI(title="tolerant json")

    @tolerant_app.websocket("/ws/json")
    async def tolerant_json(websocket: WebSocket):
        await websocket.accept()
        while True:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                return
            if event.get("text") is None:
                await websocket.close(code=1003, reason="binary not accepted")
                return
            try:
                data = json.loads(event["text"])
            except ValueError:
                await websocket.send_json({"type": "error", "detail": "malformed JSON"})
                continue
            kind = data.get("type")
            if kind == "ping":
                await websocket.send_json({"type": "pong"})
            elif kind == "message" and "message" in data:
                await websocket.send_json({"type": "ack", "message": data["message"]})
            else:
                await websocket.send_json({"type": "error", "detail": f"cannot handle {kind!r}"})

    return tolerant_app

# %% wrong: tolerant-json: receive_text() in a try, so binary gets an error reply instead of 1003
def make_tolerant_app() -> FastAPI:
    tolerant_app = FastAPI(title="tolerant json")

    @tolerant_app.websocket("/ws/json")
    async def tolerant_json(websocket: WebSocket):
        await websocket.accept()
        while True:
            try:
                data = json.loads(await websocket.receive_text())
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                if data.get("type") == "ping":
                    await websocket.send_json({"type": "pong"})
                elif data.get("type") == "message":
                    await websocket.send_json({"type": "ack", "message": data["message"]})
                else:
                    raise ValueError(f"unknown type {data.get('type')!r}")
            except WebSocketDisconnect:
                return
            except (ValueError, KeyError) as exc:
                await websocket.send_json({"type": "error", "detail": str(exc) or "bad message"})

    return tolerant_app

# %% wrong: tolerant-json: the ack of the sample run, not the message sent
def make_tolerant_app() -> FastAPI:
    tolerant_app = FastAPI(title="tolerant json")

    @tolerant_app.websocket("/ws/json")
    async def tolerant_json(websocket: WebSocket):
        await websocket.accept()
        while True:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                return
            if event.get("text") is None:
                await websocket.close(code=1003, reason="binary not accepted")
                return
            try:
                data = json.loads(event["text"])
            except ValueError:
                data = None
            if isinstance(data, dict) and data.get("type") == "ping":
                await websocket.send_json({"type": "pong"})
            elif isinstance(data, dict) and data.get("type") == "message" and "message" in data:
                await websocket.send_json({"type": "ack", "message": "still here?"})
            else:
                await websocket.send_json({"type": "error", "detail": "bad message"})

    return tolerant_app

# %% valid: tolerant-json: match statements on the text and on the parsed value, json.dumps by hand
def make_tolerant_app() -> FastAPI:
    tolerant_app = FastAPI(title="tolerant json")

    def answer(text: str) -> dict:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return {"type": "error", "detail": f"malformed JSON ({exc.msg})"}
        match data:
            case {"type": "ping"}:
                return {"type": "pong"}
            case {"type": "message", "message": message}:
                return {"type": "ack", "message": message}
            case {"type": "message"}:
                return {"type": "error", "detail": "a message needs its message field"}
            case dict():
                return {"type": "error", "detail": "type must be 'ping' or 'message'"}
            case _:
                return {"type": "error", "detail": "send a JSON object"}

    @tolerant_app.websocket("/ws/json")
    async def tolerant_json(websocket: WebSocket):
        await websocket.accept()
        while (event := await websocket.receive())["type"] != "websocket.disconnect":
            match event:
                case {"text": str(text)}:
                    await websocket.send_text(json.dumps(answer(text), indent=1))
                case _:
                    await websocket.close(1003, "binary not accepted")
                    return

    return tolerant_app

# %% wrong: countdown: the counts as text, not binary
from fastapi import Query


def make_countdown_app() -> FastAPI:
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket, n: int = Query(ge=1, le=10)):
        await websocket.accept()
        for i in range(n, 0, -1):
            await websocket.send_text(str(i))
        await websocket.send_json({"type": "liftoff"})
        await websocket.close(code=4000, reason="countdown over")

    return countdown_app

# %% wrong: countdown: bytes(i), which is i zero bytes, not one byte of value i
from fastapi import Query


def make_countdown_app() -> FastAPI:
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket, n: int = Query(ge=1, le=10)):
        await websocket.accept()
        for i in range(n, 0, -1):
            await websocket.send_bytes(bytes(i))
        await websocket.send_json({"type": "liftoff"})
        await websocket.close(code=4000, reason="countdown over")

    return countdown_app

# %% wrong: countdown: n typed as int but not bounded, so 0 and 11 are accepted
def make_countdown_app() -> FastAPI:
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket, n: int):
        await websocket.accept()
        for i in range(n, 0, -1):
            await websocket.send_bytes(bytes([i]))
        await websocket.send_json({"type": "liftoff"})
        await websocket.close(code=4000, reason="countdown over")

    return countdown_app

# %% wrong: countdown: the liftoff sent as binary JSON (mode="binary")
from fastapi import Query


def make_countdown_app() -> FastAPI:
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket, n: int = Query(ge=1, le=10)):
        await websocket.accept()
        for i in range(n, 0, -1):
            await websocket.send_bytes(bytes([i]))
        await websocket.send_json({"type": "liftoff"}, mode="binary")
        await websocket.close(code=4000, reason="countdown over")

    return countdown_app

# %% wrong: countdown: returns after the liftoff without closing (the client sees 1006)
from fastapi import Query


def make_countdown_app() -> FastAPI:
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket, n: int = Query(ge=1, le=10)):
        await websocket.accept()
        for i in range(n, 0, -1):
            await websocket.send_bytes(bytes([i]))
        await websocket.send_json({"type": "liftoff"})

    return countdown_app

# %% wrong: countdown: the three of the sample run, whatever n is
from fastapi import Query


def make_countdown_app() -> FastAPI:
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket, n: int = Query(ge=1, le=10)):
        await websocket.accept()
        for b in (b"\x03", b"\x02", b"\x01"):
            await websocket.send_bytes(b)
        await websocket.send_json({"type": "liftoff"})
        await websocket.close(code=4000, reason="countdown over")

    return countdown_app

# %% valid: countdown: Annotated bounds, int.to_bytes, and the liftoff through json.dumps with spaces
import json
from typing import Annotated

from fastapi import Query


def make_countdown_app() -> FastAPI:
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket, n: Annotated[int, Query(gt=0, lt=11)]):
        await websocket.accept()
        count = n
        while count:
            await websocket.send_bytes(count.to_bytes(1, "big"))
            count -= 1
        await websocket.send_text(json.dumps({"type": "liftoff"}))
        await websocket.close(4000, "countdown over")

    return countdown_app

# %% valid: countdown: n checked by hand, refused with close() before accept()
def make_countdown_app() -> FastAPI:
    countdown_app = FastAPI(title="countdown")

    @countdown_app.websocket("/ws/countdown")
    async def countdown(websocket: WebSocket):
        raw = websocket.query_params.get("n", "")
        if not raw.isdecimal() or not 1 <= int(raw) <= 10:
            await websocket.close(code=1008)  # before accept(): HTTP 403
            return
        await websocket.accept()
        for i in reversed(range(1, int(raw) + 1)):
            await websocket.send_bytes(bytes([i]))
        await websocket.send_json({"type": "liftoff"})
        await websocket.close(code=4000, reason="countdown over")

    return countdown_app
