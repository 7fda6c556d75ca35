"""WebSocket basics against a real server: echo, JSON messages, bad input, limits, origins."""
from __future__ import annotations

import json
import threading

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from rtlab import LabServer

from .helpers import ask, closed_with

LIMIT = 64 * 1024


def test_echo_text_and_binary(shared_lab):
    with connect(shared_lab.ws_url + "/ws/echo") as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "Echo: hello"
        ws.send(bytes(1000))
        assert ws.recv(timeout=5) == "Received 1000 bytes"
        ws.send("")
        assert ws.recv(timeout=5) == "Echo: "


def test_client_id_path_parameter(shared_lab):
    with connect(shared_lab.ws_url + "/ws/client/5") as ws:
        assert ws.recv(timeout=5) == "Welcome, client 5"
        ws.send("again")
        assert ws.recv(timeout=5) == "Echo: again"
    with pytest.raises(InvalidStatus) as refused:
        connect(shared_lab.ws_url + "/ws/client/five").__enter__()
    assert refused.value.response.status_code == 403


def test_json_ping_and_message(shared_lab):
    with connect(shared_lab.ws_url + "/ws/json") as ws:
        assert ask(ws, {"type": "ping"}) == {"type": "pong"}
        assert ask(ws, {"type": "message", "message": "hi ☃"}) == {"type": "ack", "message": "hi ☃"}


BAD_INPUTS = {
    "malformed JSON": ('{"type": "ping"', "malformed JSON"),
    "not an object": ('[1, 2, 3]', "object"),
    "a bare string": ('"ping"', "object"),
    "missing type": ('{"message": "x"}', "missing 'type'"),
    "unknown type": ('{"type": "launch"}', "unknown message type 'launch'"),
    "type not a string": ('{"type": 5}', "unknown message type"),
    "wrong field type": ('{"type": "message", "message": 42}', "message: Input should be a valid string"),
    "missing field": ('{"type": "message"}', "message: Field required"),
    "extra field": ('{"type": "ping", "admin": true}', "admin: Extra inputs are not permitted"),
    "lone surrogate": ('{"type": "message", "message": "\\ud800"}', "malformed JSON"),
    "nesting 5,000 deep": ('{"type": "message", "message": ' + "[" * 5000 + "]" * 5000 + "}",
                           "malformed JSON: recursion limit"),
    "huge field value": (json.dumps({"type": "message", "message": "x" * 40_000}), "at most 16000 characters"),
    "empty text": ("", "malformed JSON"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_an_error_and_the_connection_stays_open(shared_lab, name):
    text, expected = BAD_INPUTS[name]
    with connect(shared_lab.ws_url + "/ws/json") as ws:
        reply = ask(ws, text)
        assert reply["type"] == "error"
        assert expected in reply["detail"], reply
        assert ask(ws, {"type": "ping"}) == {"type": "pong"}  # still open, still served


def test_binary_on_a_json_endpoint_closes_1003(shared_lab):
    with connect(shared_lab.ws_url + "/ws/json") as ws:
        ws.send(b'{"type": "ping"}')
        code, reason = closed_with(ws)
    assert code == 1003 and "binary" in reason


@pytest.mark.parametrize("path", ["/ws/echo", "/ws/json", "/ws/client/1"])
def test_oversized_message_closes_1009(shared_lab, path):
    with connect(shared_lab.ws_url + path, max_size=None) as ws:
        if path == "/ws/client/1":
            ws.recv(timeout=5)
        ws.send("x" * (LIMIT + 1))
        code, reason = closed_with(ws)
    assert code == 1009, reason


def test_message_at_the_limit_passes(shared_lab):
    with connect(shared_lab.ws_url + "/ws/echo", max_size=None) as ws:
        ws.send("x" * (LIMIT - 100))
        assert ws.recv(timeout=5) == "Echo: " + "x" * (LIMIT - 100)


def test_the_size_limit_is_a_setting():
    with LabServer(max_message_bytes=2048) as lab, connect(lab.ws_url + "/ws/echo") as ws:
        ws.send("é" * 1000)  # 2,000 bytes: fits
        assert ws.recv(timeout=5).endswith("é")
        ws.send("é" * 1100)  # 1,100 characters but 2,200 bytes: too big
        assert closed_with(ws)[0] == 1009


def test_one_clients_fault_never_hurts_another(shared_lab):
    with connect(shared_lab.ws_url + "/ws/json") as good:
        assert ask(good, {"type": "ping"}) == {"type": "pong"}
        for text, _ in BAD_INPUTS.values():
            with connect(shared_lab.ws_url + "/ws/json", max_size=None) as bad:
                ask(bad, text)
                bad.send(b"binary")
                closed_with(bad)
            assert ask(good, {"type": "message", "message": "still here"})["message"] == "still here"
    assert "Exception in ASGI application" not in shared_lab.logs(500)


# -- origins --------------------------------------------------------------------------

def test_foreign_origin_is_refused_with_403(shared_lab):
    with pytest.raises(InvalidStatus) as refused:
        connect(shared_lab.ws_url + "/ws/echo", origin="http://evil.example").__enter__()
    assert refused.value.response.status_code == 403
    assert b"origin not allowed" in refused.value.response.body


def test_own_origin_and_no_origin_pass(shared_lab):
    with connect(shared_lab.ws_url + "/ws/echo", origin=shared_lab.url) as ws:
        ws.send("same origin")
        assert ws.recv(timeout=5) == "Echo: same origin"
    with connect(shared_lab.ws_url + "/ws/echo") as ws:  # a script sends no Origin
        ws.send("no origin")
        assert ws.recv(timeout=5) == "Echo: no origin"


def test_allowed_origins_setting():
    with LabServer(allowed_origins=["http://app.example"]) as lab:
        with connect(lab.ws_url + "/ws/echo", origin="http://app.example") as ws:
            ws.send("ok")
            assert ws.recv(timeout=5) == "Echo: ok"
        with pytest.raises(InvalidStatus):
            connect(lab.ws_url + "/ws/echo", origin="http://other.example").__enter__()


def test_concurrent_clients_each_get_their_own_answers(shared_lab):
    errors = []

    def client(n: int) -> None:
        try:
            with connect(shared_lab.ws_url + f"/ws/client/{n}") as ws:
                assert ws.recv(timeout=10) == f"Welcome, client {n}"
                for i in range(20):
                    ws.send(f"{n}-{i}")
                    assert ws.recv(timeout=10) == f"Echo: {n}-{i}"
        except Exception as exc:  # collected: assertions in threads don't fail the test
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
