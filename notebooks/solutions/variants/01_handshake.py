# Variants of the exercises of notebooks/01_handshake.ipynb, for tests/test_exercises.py: each wrong one
# must get "not yet" from its check, each valid one "passed". Each section is the whole exercise cell.

# %% wrong: shout: close() without the code, so the client sees 1000, not BYE_CODE
shout_app = FastAPI(title="shout")
BYE_CODE = 4000


@shout_app.websocket("/ws")
async def shout(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close()
                return
            await websocket.send_text(text.upper())
    except WebSocketDisconnect:
        pass


shout_server = serve(shout_app)

# %% wrong: shout: returns on "bye" without closing (the client sees 1006, no close frame)
shout_app = FastAPI(title="shout")
BYE_CODE = 1000


@shout_app.websocket("/ws")
async def shout(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                return
            await websocket.send_text(text.upper())
    except WebSocketDisconnect:
        pass


shout_server = serve(shout_app)

# %% wrong: shout: answers "BYE" before closing, as every other text
shout_app = FastAPI(title="shout")
BYE_CODE = 4000


@shout_app.websocket("/ws")
async def shout(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(text.upper())
            if text == "bye":
                await websocket.close(code=BYE_CODE)
                return
    except WebSocketDisconnect:
        pass


shout_server = serve(shout_app)

# %% wrong: shout: any text with "bye" in it closes ("goodbye", "Bye")
shout_app = FastAPI(title="shout")
BYE_CODE = 4000


@shout_app.websocket("/ws")
async def shout(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            if "bye" in text.lower():
                await websocket.close(code=BYE_CODE)
                return
            await websocket.send_text(text.upper())
    except WebSocketDisconnect:
        pass


shout_server = serve(shout_app)

# %% wrong: shout: no except WebSocketDisconnect, so a client that leaves first is an error in the log
shout_app = FastAPI(title="shout")
BYE_CODE = 4000


@shout_app.websocket("/ws")
async def shout(websocket: WebSocket):
    await websocket.accept()
    while True:
        text = await websocket.receive_text()
        if text == "bye":
            await websocket.close(code=BYE_CODE)
            return
        await websocket.send_text(text.upper())


shout_server = serve(shout_app)

# %% wrong: shout: a code of the reserved range 3000-3999
shout_app = FastAPI(title="shout")
BYE_CODE = 3000


@shout_app.websocket("/ws")
async def shout(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close(code=BYE_CODE)
                return
            await websocket.send_text(text.upper())
    except WebSocketDisconnect:
        pass


shout_server = serve(shout_app)

# %% valid: shout: iter_text() and match, code 1000 given positionally
shout_app = FastAPI(title="shout")
BYE_CODE = 1000


@shout_app.websocket("/ws")
async def shout(websocket: WebSocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        match text:
            case "bye":
                await websocket.close(BYE_CODE)
                break
            case _:
                await websocket.send_text(text.upper())


shout_server = serve(shout_app)

# %% wrong: binary-by-hand: encode_frame's default opcode, a text frame
def binary_by_hand(data: bytes) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((HOST, lab.port), timeout=5) as s:
        s.sendall(upgrade_request(lab.port, "/ws/echo", key).encode())
        read_head(s)
        s.sendall(encode_frame(data))
        return decode_frame(s)["payload"]

# %% wrong: binary-by-hand: a frame written by hand with the 7-bit length only
def binary_by_hand(data: bytes) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((HOST, lab.port), timeout=5) as s:
        s.sendall(upgrade_request(lab.port, "/ws/echo", key).encode())
        read_head(s)
        mask = os.urandom(4)
        header = bytes([0x82, 0x80 | (len(data) & 0x7F)]) + mask
        s.sendall(header + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        return decode_frame(s)["payload"]

# %% wrong: binary-by-hand: sends the frame without reading the 101 head first
def binary_by_hand(data: bytes) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((HOST, lab.port), timeout=5) as s:
        s.sendall(upgrade_request(lab.port, "/ws/echo", key).encode() + encode_frame(data, opcode=0x2))
        return decode_frame(s)["payload"]

# %% wrong: binary-by-hand: never closes the socket (the garbage collector does)
def binary_by_hand(data: bytes) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    s = socket.create_connection((HOST, lab.port), timeout=5)
    s.sendall(upgrade_request(lab.port, "/ws/echo", key).encode())
    read_head(s)
    s.sendall(encode_frame(data, opcode=0x2))
    return decode_frame(s)["payload"]

# %% valid: binary-by-hand: websockets' sans-I/O ClientProtocol over the bare socket
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.uri import parse_uri


def binary_by_hand(data: bytes) -> bytes:
    proto = ClientProtocol(parse_uri(lab.ws_url + "/ws/echo"), max_size=None)
    s = socket.create_connection((HOST, lab.port), timeout=5)
    try:
        proto.send_request(proto.connect())
        s.sendall(b"".join(proto.data_to_send()))
        proto.receive_data(read_head(s))
        proto.send_binary(data)
        s.sendall(b"".join(proto.data_to_send()))
        while True:
            for event in proto.events_received():
                if getattr(event, "opcode", None) in (Opcode.TEXT, Opcode.BINARY):
                    return bytes(event.data)
            proto.receive_data(s.recv(4096))
    finally:
        s.close()

# %% wrong: header-length: 126 counted as a 7-bit length
def client_header_length(n: int) -> int:
    if n <= 126:
        return 2 + 4
    if n < 2**16:
        return 2 + 2 + 4
    return 2 + 8 + 4

# %% wrong: header-length: 65,535 given the 64-bit length
def client_header_length(n: int) -> int:
    if n < 126:
        return 6
    if n < 65_535:
        return 8
    return 14

# %% wrong: header-length: forgets the masking key
def client_header_length(n: int) -> int:
    if n < 126:
        return 2
    if n < 2**16:
        return 4
    return 10

# %% wrong: header-length: a 32-bit length for large payloads
def client_header_length(n: int) -> int:
    if n < 126:
        return 6
    if n < 2**16:
        return 8
    return 10

# %% wrong: header-length: measures a frame built with encode_frame
def client_header_length(n: int) -> int:
    return len(encode_frame(bytes(n))) - n

# %% valid: header-length: a table of limits, walked in order
def client_header_length(n: int) -> int:
    for limit, extended in ((125, 0), (0xFFFF, 2), (2**63 - 1, 8)):
        if n <= limit:
            return 2 + extended + 4
    raise ValueError("a frame carries at most 2**63 - 1 bytes")
