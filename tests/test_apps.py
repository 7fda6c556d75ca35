"""The dashboard and stock stream: real figures, parameters checked."""
from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .helpers import recv_json, recv_until


def test_dashboard_reports_real_figures(lab):
    with connect(lab.ws_url + "/ws/dashboard?interval=0.05") as dash:
        first = recv_json(dash)
        assert set(first) >= {"timestamp", "cpu_usage", "memory_usage", "requests_per_second", "active_users"}
        assert first["memory_usage"] > 0 and first["memory_rss_mb"] > 10
        assert first["active_users"] == 0 and first["connections"] == {"dashboard": 1}
        with connect(lab.ws_url + "/ws/private/ann") as a1, connect(lab.ws_url + "/ws/pooled/ann"), \
                connect(lab.ws_url + "/ws/chat/r?username=bob") as bob:
            recv_json(bob)
            for i in range(30):
                a1.send(json.dumps({"to": "bob", "message": str(i)}))
                recv_json(a1)
            busy = recv_until(dash, lambda s: s["active_users"] == 2 and s["messages_per_second"] > 0)
            assert busy["connections"] == {"dashboard": 1, "private": 1, "pooled": 1, "chat": 1}
        calm = recv_until(dash, lambda s: s["active_users"] == 0)
        assert calm["connections"] == {"dashboard": 1}


@pytest.mark.parametrize("query", ["interval=0", "interval=-1", "interval=nan", "interval=abc", "interval=99999"])
def test_dashboard_refuses_bad_intervals(lab, query):
    with pytest.raises(InvalidStatus):
        connect(f"{lab.ws_url}/ws/dashboard?{query}").__enter__()


def test_stocks_is_a_seeded_random_walk(lab):
    def ticks(n):
        with connect(lab.ws_url + "/ws/stocks?symbol=ACME&interval=0.01") as ws:
            return [recv_json(ws) for _ in range(n)]

    first, again = ticks(10), ticks(10)
    assert [t["price"] for t in first] == [t["price"] for t in again]  # same symbol, same walk
    for t in first:
        assert set(t) == {"symbol", "price", "change", "volume"} and t["symbol"] == "ACME" and t["volume"] > 0
    for before, after in zip(first, first[1:]):
        assert after["price"] == pytest.approx(before["price"] + after["change"], abs=0.011)


def test_stocks_answers_pings_and_bad_input_while_streaming(lab):
    with connect(lab.ws_url + "/ws/stocks?symbol=X&interval=0.05") as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert recv_until(ws, lambda m: m.get("type") == "pong") == {"type": "pong"}
        ws.send("nonsense")
        assert recv_until(ws, lambda m: m.get("type") == "error")["detail"].startswith("malformed JSON")
        assert "price" in recv_json(ws)
