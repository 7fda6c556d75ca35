"""A concrete way to open every WebSocket endpoint of the lab, for tests that cover them all."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from rtlab.app import route_table

PATH_VALUES = {"{client_id}": "7", "{room_id}": "r1", "{user_id}": "u1", "{doc_id}": "d1"}
QUERIES = {
    "/ws/broadcast": "?username=fz", "/ws/room/{room_id}": "?username=fz", "/ws/chat/{room_id}": "?username=fz",
    "/ws/naive/broadcast": "?username=fz", "/ws/document/{doc_id}": "?user_id=fz",
}


@dataclass
class Target:
    route: str
    url: str
    kwargs: dict = field(default_factory=dict)
    first: str | None = None  # a message to send right after connecting (first-message auth)


def token_for(lab, username: str = "fz") -> str:
    return httpx.post(lab.url + "/token", json={"username": username}, timeout=5).json()["access_token"]


def ws_targets(lab) -> list[Target]:
    """One target per WebSocket route; fails if a route has no recipe here (keep this in step)."""
    token = token_for(lab)
    targets = []
    for kind, route, _ in route_table():
        if kind != "WS":
            continue
        path = route
        for key, value in PATH_VALUES.items():
            path = path.replace(key, value)
        url = lab.ws_url + path + QUERIES.get(route, "")
        target = Target(route, url)
        if route == "/ws/auth":
            target.url += f"?token={token}"
        elif route == "/ws/auth/header":
            target.kwargs = {"additional_headers": {"Authorization": f"Bearer {token}"}}
        elif route == "/ws/auth/subprotocol":
            target.kwargs = {"subprotocols": ["rtlab.v1", f"bearer.{token}"]}
        elif route == "/ws/auth/first-message":
            target.first = json.dumps({"type": "auth", "token": token})
        targets.append(target)
    assert {t.route for t in targets} >= set(QUERIES), "a route of QUERIES is gone"
    return targets
