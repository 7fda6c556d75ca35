# Solutions to the exercises of notebooks/01_handshake.ipynb.
# Each section replaces the whole exercise cell of the same ID (tests/test_exercises.py).

# %% exercise: shout
shout_app = FastAPI(title="shout")
BYE_CODE = 4000  # yours to choose: 1000, or a code of your own in 4000-4999


@shout_app.websocket("/ws")
async def shout(websocket: WebSocket):
    """Accept; answer each text in upper case; on "bye", close with BYE_CODE."""
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close(code=BYE_CODE, reason="goodbye")
                return
            await websocket.send_text(text.upper())
    except WebSocketDisconnect:
        pass


shout_server = serve(shout_app)

# %% exercise: binary-by-hand
def binary_by_hand(data: bytes) -> bytes:
    """Handshake for /ws/echo on lab.port, send data as a binary frame, return the answer's payload."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((HOST, lab.port), timeout=5) as s:
        s.sendall(upgrade_request(lab.port, "/ws/echo", key).encode())
        status, headers = parse_head(read_head(s))
        assert status.split()[1] == "101", status
        assert headers["sec-websocket-accept"] == accept_for(key)
        s.sendall(encode_frame(data, opcode=0x2))
        return decode_frame(s)["payload"]

# %% exercise: header-length
def client_header_length(n: int) -> int:
    """Bytes before the payload in a masked client frame of n payload bytes."""
    if n < 126:
        extended = 0
    elif n < 2**16:
        extended = 2
    else:
        extended = 8
    return 2 + extended + 4
