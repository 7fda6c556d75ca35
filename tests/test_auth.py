"""Tokens and authenticated WebSockets: every way in, and every attack refused before any message."""
from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from rtlab import LabServer

SECRET = "test-secret-" + "x" * 64  # long enough for HS512 too (RFC 7518 3.2)


@pytest.fixture(scope="module")
def authlab():
    with LabServer(secret=SECRET) as server:
        yield server


def token_for(lab, username="alice") -> str:
    reply = httpx.post(lab.url + "/token", json={"username": username})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "bearer"
    return body["access_token"]


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def attacks() -> dict[str, str]:
    now = int(time.time())
    good = {"sub": "mallory", "exp": now + 600}
    return {
        "malformed": "not-a-jwt",
        "garbage segments": "a.b.c",
        "forged (other key)": jwt.encode(good, "another-secret-of-sufficient-length!!", algorithm="HS256"),
        "expired": jwt.encode({"sub": "mallory", "exp": now - 10}, SECRET, algorithm="HS256"),
        "alg none": b64({"alg": "none", "typ": "JWT"}) + "." + b64(good) + ".",
        "HS512 with the right key": jwt.encode(good, SECRET, algorithm="HS512"),
        "no exp claim": jwt.encode({"sub": "mallory"}, SECRET, algorithm="HS256"),
        "no sub claim": jwt.encode({"exp": now + 600}, SECRET, algorithm="HS256"),
    }


def refused(ws) -> tuple[int, str]:
    from .helpers import closed_with
    return closed_with(ws)


def test_token_endpoint_issues_hs256_with_sub_and_one_hour(authlab):
    token = token_for(authlab, "alice")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert 3590 <= claims["exp"] - time.time() <= 3600


@pytest.mark.parametrize("body", [{}, {"username": ""}, {"username": 5}, {"username": "x" * 65}])
def test_token_endpoint_validates_its_body(authlab, body):
    assert httpx.post(authlab.url + "/token", json=body).status_code == 422


def test_query_token_welcome_then_user_echo(authlab):
    with connect(authlab.ws_url + "/ws/auth?token=" + token_for(authlab, "alice")) as ws:
        welcome = json.loads(ws.recv(timeout=5))
        assert welcome["type"] == "welcome" and welcome["user"]["sub"] == "alice"
        ws.send("hi")
        assert ws.recv(timeout=5) == "User alice: hi"


def test_missing_token_is_refused_with_1008(authlab):
    with connect(authlab.ws_url + "/ws/auth") as ws:
        assert refused(ws) == (1008, "missing token")


@pytest.mark.parametrize("name", list(attacks()))
def test_every_token_attack_is_refused_before_any_message(authlab, name):
    token = attacks()[name]
    with connect(authlab.ws_url + "/ws/auth?token=" + token) as ws:
        code, reason = refused(ws)
    assert code == 1008 and reason, (name, reason)
    with connect(authlab.ws_url + "/ws/auth/header",
                 additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert refused(ws)[0] == 1008


def test_reasons_say_what_was_wrong(authlab):
    reasons = {}
    for name in ("expired", "forged (other key)", "alg none", "malformed"):
        with connect(authlab.ws_url + "/ws/auth?token=" + attacks()[name]) as ws:
            reasons[name] = refused(ws)[1]
    assert reasons["expired"] == "token expired"
    assert reasons["forged (other key)"] == "invalid token signature"
    assert "HS256 only" in reasons["alg none"]
    assert reasons["malformed"] == "malformed token"


def test_header_token(authlab):
    token = token_for(authlab, "bob")
    with connect(authlab.ws_url + "/ws/auth/header", additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(ws.recv(timeout=5))["user"]["sub"] == "bob"
        ws.send("x")
        assert ws.recv(timeout=5) == "User bob: x"
    with connect(authlab.ws_url + "/ws/auth/header") as ws:
        assert refused(ws) == (1008, "missing token")
    with connect(authlab.ws_url + "/ws/auth/header", additional_headers={"Authorization": f"Basic {token}"}) as ws:
        assert refused(ws) == (1008, "missing token")


def test_subprotocol_token(authlab):
    token = token_for(authlab, "carol")
    with connect(authlab.ws_url + "/ws/auth/subprotocol", subprotocols=["rtlab.v1", "bearer." + token]) as ws:
        assert ws.subprotocol == "rtlab.v1"  # the server never echoes the token back
        assert json.loads(ws.recv(timeout=5))["user"]["sub"] == "carol"
    with connect(authlab.ws_url + "/ws/auth/subprotocol", subprotocols=["rtlab.v1", "bearer.forged"]) as ws:
        assert refused(ws)[0] == 1008
    with pytest.raises(InvalidStatus):
        connect(authlab.ws_url + "/ws/auth/subprotocol", subprotocols=["bearer." + token]).__enter__()


def test_first_message_token(authlab):
    token = token_for(authlab, "dave")
    with connect(authlab.ws_url + "/ws/auth/first-message") as ws:
        ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(ws.recv(timeout=5))["user"]["sub"] == "dave"
    with connect(authlab.ws_url + "/ws/auth/first-message") as ws:
        ws.send(json.dumps({"type": "auth", "token": attacks()["expired"]}))
        assert refused(ws) == (1008, "token expired")
    with connect(authlab.ws_url + "/ws/auth/first-message") as ws:
        ws.send("hello")
        code, reason = refused(ws)
        assert code == 1008 and "malformed JSON" in reason


def test_tokens_survive_a_restart_with_the_same_secret():
    with LabServer(secret=SECRET) as first:
        token = token_for(first, "erin")
    with LabServer(secret=SECRET) as second, connect(second.ws_url + "/ws/auth?token=" + token) as ws:
        assert json.loads(ws.recv(timeout=5))["user"]["sub"] == "erin"
