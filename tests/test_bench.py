"""Every benchmark runs end to end and prints its table or its JSON rows.

Figures are not asserted (a test is no place for timing: see the README for measured figures);
what is asserted is that each run completes, compares side by side, and delivers everything.
"""
import json
import shutil
import subprocess
import sys

import pytest


def bench(*args: str, timeout: float = 180) -> str:
    out = subprocess.run([sys.executable, "-m", "rtlab.bench", *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_usage_lists_every_benchmark():
    out = subprocess.run([sys.executable, "-m", "rtlab.bench"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    for name in ("echo", "fanout", "capacity", "sse", "scaleout"):
        assert f"  {name} " in out.stderr


def test_fanout_prints_a_table_with_every_server():
    lines = bench("fanout", "--clients", "20", "--messages", "20", "--stalled", "0", "--repeat", "1",
                  "--timeout", "60").strip().splitlines()
    assert lines[0].split()[:3] == ["server", "clients", "stalled"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"raw", "rtlab", "naive"}
    assert all("stalled:" not in row for row in rows.values())  # every server delivered everything


def test_fanout_with_stalled_clients_blocks_the_naive_loop_and_not_the_hub():
    """The stalled scenario really stalls: its prefill fills the stalled clients' buffers."""
    rows = json.loads(bench("fanout", "--clients", "20", "--messages", "20", "--stalled", "2", "--repeat", "1",
                            "--servers", "rtlab,naive", "--timeout", "5", "--json"))
    cells = {(r["server"], r["stalled"]): r for r in rows}
    assert cells[("rtlab", 2)]["deliveries"] == 20 * 20 and cells[("rtlab", 2)]["seconds"]
    assert cells[("naive", 0)]["deliveries"] == 20 * 20
    assert cells[("naive", 2)]["seconds"] is None and "stalled" in cells[("naive", 2)]["note"]


def test_echo_compares_every_implementation_with_the_raw_reference():
    rows = json.loads(bench("echo", "--messages", "200", "--repeat", "1", "--json"))
    assert rows[0]["server"] == "raw websockets" and rows[0]["vs_raw"] == 1.0
    assert {r["server"] for r in rows[1:]} >= {"rtlab (websockets-sansio)", "rtlab (wsproto)"}
    assert all(r["round_trips_per_s"] > 0 for r in rows)


def test_capacity_measures_memory_per_connection_with_and_without_deflate():
    rows = json.loads(bench("capacity", "--connections", "200", "--json"))
    assert {(r["server"], r["deflate"]) for r in rows} >= {("raw websockets", "off"), ("raw websockets", "on"),
                                                           ("rtlab (websockets-sansio)", "off"),
                                                           ("rtlab (websockets-sansio)", "on")}
    for r in rows:
        assert r["connections"] == 200 and r["kib_per_connection"] > 0
        assert r["deflate_negotiated"] == (r["deflate"] == "on"), r  # the extension really was in use


def test_sse_fans_out_to_every_subscriber_next_to_websockets():
    rows = json.loads(bench("sse", "--clients", "50", "--messages", "20", "--repeat", "1", "--json"))
    assert [r["server"] for r in rows] == ["raw ws", "rtlab ws", "rtlab sse"]
    assert all(r["deliveries"] == 50 * 20 and r["seconds"] for r in rows), rows


def test_scaleout_prints_memory_and_redis_side_by_side():
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    lines = bench("scaleout", "--receivers", "5", "--paced", "20", "--burst", "20").strip().splitlines()
    assert lines[0].split()[:2] == ["broker", "receivers"]
    assert [line.split()[0] for line in lines[1:]] == ["memory", "redis"]
