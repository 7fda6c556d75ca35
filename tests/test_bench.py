"""Every benchmark runs end to end, small, and delivers what it says; the CPU figures are honest.

Figures are not asserted (a test is no place for timing: see the README for measured figures);
what is asserted is what each run delivered (counts, rows, flags), and, with synthetic numbers,
how a CPU figure is computed and flagged.
"""
import asyncio
import json
import shutil
import subprocess
import sys

import pytest

from rtlab.bench.common import (
    CPU_FLOOR,
    Incomplete,
    add_cpu_vs,
    cpu_figure,
    fmt_cpu,
    fmt_ratio,
    ratio,
    run_rounds,
    table,
)
from rtlab.frames import frame, frame_header, handshake_request

# A cell that can never reach its CPU target: one round, flagged unreliable whatever the machine.
ONE_ROUND = ("--repeat", "1", "--max-rounds", "1", "--min-cpu", "1000")


def bench(*args: str, timeout: float = 240) -> str:
    out = subprocess.run([sys.executable, "-m", "rtlab.bench", *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


# --- the CPU figure, with synthetic numbers ---------------------------------------------------

def test_a_zero_cpu_reading_is_a_value_not_a_gap():
    fig = cpu_figure([(0.0, 1000), (0.0, 1000)], min_cpu=1.0)
    assert fig.us == 0.0 and fig.us_min == 0.0 and fig.us_max == 0.0
    assert fig.reliable is False  # zero ticks: a value, flagged
    row = {"cpu_us_per_delivery": 0.0, **fig.fields()}
    assert fmt_cpu()(row) == "0.00 (0.00–0.00)*"
    assert table([{"x": 0.0}], [("x", "x", ".2f")]).splitlines()[1] == "0.00"
    assert ratio(5.0, 0.0) is None and ratio(0.0, 5.0) == 0.0


def test_no_unit_means_no_figure():
    fig = cpu_figure([(0.3, 0)], min_cpu=0.1)
    assert fig.us is None and fig.us_min is None and fig.reliable is False
    assert fmt_cpu()({"cpu_us_per_delivery": None}) == "-"
    assert cpu_figure([]).us is None


def test_cpu_per_unit_is_total_over_total_with_the_repeats_spread():
    fig = cpu_figure([(0.40, 200_000), (0.30, 100_000), (0.50, 250_000)], min_cpu=1.0)
    assert fig.us == pytest.approx(1.2 / 550_000 * 1e6)
    assert (fig.us_min, fig.us_max) == (pytest.approx(2.0), pytest.approx(3.0))
    assert fig.seconds == pytest.approx(1.2) and fig.units == 550_000 and fig.reliable
    assert fmt_cpu()({"cpu_us_per_delivery": fig.us, **fig.fields()}) == "2.18 (2.00–3.00)"
    # a repeat with no unit is left out of the spread, not counted as zero
    assert cpu_figure([(0.5, 1000), (0.1, 0)], min_cpu=0.1).us_min == pytest.approx(500.0)


def test_a_figure_under_the_minimum_or_the_floor_is_flagged():
    assert not cpu_figure([(0.9, 1000)], min_cpu=1.0).reliable
    assert cpu_figure([(1.0, 1000)], min_cpu=1.0).reliable
    assert cpu_figure([(0.1, 10)] * 10, min_cpu=1.0).reliable  # 0.9999999999999999: 100 ticks
    assert not cpu_figure([(CPU_FLOOR / 2, 1000)], min_cpu=0.01).reliable  # under 1 s, whatever was asked
    assert not cpu_figure([(0.3, 1000)], min_cpu=0.3).reliable and CPU_FLOOR == 1.0
    rows = [{"server": "raw", **cpu_figure([(1.0, 100_000)]).fields()},
            {"server": "x", **cpu_figure([(0.02, 1000)]).fields()}]
    add_cpu_vs(rows, rows[0])
    assert rows[0]["cpu_vs_raw"] == 1.0 and rows[0]["cpu_vs_raw_reliable"]
    assert rows[1]["cpu_vs_raw"] == pytest.approx(0.5) and not rows[1]["cpu_vs_raw_reliable"]
    assert fmt_ratio()(rows[1]) == "0.50*"


def test_rounds_run_until_the_cpu_target_and_stay_bounded():
    clock = {"cpu": 0.0}

    def cpu() -> float:
        return clock["cpu"]

    async def round_of(cost: float):
        clock["cpu"] += cost
        return 10

    async def rounds(cost: float, target: float, max_rounds: int = 1000, time_limit: float = 60):
        return await run_rounds(cpu, lambda: round_of(cost), target, max_rounds, time_limit)

    rep = asyncio.run(rounds(0.125, 1.0))  # exact in binary: eight rounds reach the target exactly
    assert rep.rounds == 8 and rep.units == 80 and rep.cpu == 1.0 and rep.note == ""
    assert asyncio.run(rounds(0.0, 0.1, max_rounds=7)).rounds == 7  # a clock that never ticks
    assert asyncio.run(rounds(5.0, 0.1)).rounds == 1  # at least one round

    async def failing():
        raise Incomplete(3, "stalled")

    rep = asyncio.run(run_rounds(cpu, failing, 1.0))
    assert rep.rounds == 0 and rep.units == 0 and rep.note == "stalled"  # an incomplete round is not counted


def test_the_clients_frames_and_handshake():
    built = frame(0x1, b"x" * 300)
    assert built[0] == 0x81 and built[1] == 0x80 | 126 and len(built) == 4 + 4 + 300
    server_frame = bytes([0x81, 126]) + (300).to_bytes(2, "big") + b"y" * 300
    assert frame_header(server_frame) == (0x1, 4, 300)
    assert frame_header(server_frame[:100]) is None
    assert frame_header(b"..\x82\x03abc", 2) == (0x2, 2, 3)
    req = handshake_request("127.0.0.1", 8000, "/ws/echo", key="dGhlIHNhbXBsZSBub25jZQ==")
    assert req.startswith(b"GET /ws/echo HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n") and req.endswith(b"\r\n\r\n")
    assert b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" in req


# --- every benchmark, small --------------------------------------------------------------------

def test_usage_lists_every_benchmark():
    out = subprocess.run([sys.executable, "-m", "rtlab.bench"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    for name in ("echo", "fanout", "capacity", "sse", "scaleout"):
        assert f"  {name} " in out.stderr


def test_fanout_delivers_everything_and_flags_a_figure_from_too_little_cpu():
    rows = json.loads(bench("fanout", "--clients", "20", "--messages", "20", "--stalled", "0", *ONE_ROUND, "--json"))
    assert [r["server"] for r in rows] == ["raw", "rtlab", "naive"]
    for r in rows:
        assert r["complete"] and r["note"] == "" and r["rounds"] == 1 and r["deliveries"] == 20 * 20, r
        assert r["cpu_reliable"] is False and r["cpu_units"] == 20 * 20 and r["cpu_us_per_delivery"] is not None
    assert rows[0]["cpu_vs_raw_reliable"] is False


def test_fanout_table_marks_unreliable_figures():
    out = bench("fanout", "--clients", "20", "--messages", "20", "--stalled", "0", "--servers", "raw", *ONE_ROUND)
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["server", "clients", "stalled"]
    assert lines[1].startswith("raw") and "*" in lines[1]
    assert any(line.startswith("* from less than") for line in lines)


def test_fanout_runs_rounds_until_the_cpu_minimum():
    rows = json.loads(bench("fanout", "--clients", "50", "--messages", "50", "--stalled", "0", "--servers", "raw",
                            "--repeat", "2", "--min-cpu", "1", "--json"))
    (r,) = rows
    assert r["complete"] and r["cpu_reliable"] and r["cpu_seconds"] >= 1.0, r
    assert r["rounds"] >= 2 and r["deliveries"] == r["rounds"] * 50 * 50 == r["cpu_units"]
    assert r["cpu_us_min"] <= r["cpu_us_per_delivery"] <= r["cpu_us_max"]


def test_fanout_with_stalled_clients_blocks_the_naive_loop_and_not_the_hub():
    """The stalled scenario really stalls: its prefill fills the stalled clients' buffers."""
    rows = json.loads(bench("fanout", "--clients", "20", "--messages", "20", "--stalled", "2", *ONE_ROUND,
                            "--servers", "rtlab,naive", "--timeout", "5", "--json"))
    cells = {(r["server"], r["stalled"]): r for r in rows}
    assert cells[("rtlab", 2)]["complete"] and cells[("rtlab", 2)]["deliveries"] == 20 * 20
    assert cells[("naive", 0)]["complete"] and cells[("naive", 0)]["deliveries"] == 20 * 20
    stalled = cells[("naive", 2)]
    assert not stalled["complete"] and "stalled" in stalled["note"]
    assert stalled["deliveries_per_s"] is None and stalled["cpu_us_per_delivery"] is None


def test_echo_compares_every_implementation_with_the_raw_reference():
    rows = json.loads(bench("echo", "--messages", "100", *ONE_ROUND, "--json"))
    assert rows[0]["server"] == "raw websockets" and rows[0]["vs_raw"] == 1.0
    assert {r["server"] for r in rows[1:]} >= {"rtlab (websockets-sansio)", "rtlab (wsproto)"}
    for r in rows:
        assert r["round_trips"] == 100 and r["rounds"] == 1 and r["round_trips_per_s"] > 0, r
        assert r["cpu_units"] == 100 and r["cpu_reliable"] is False


def test_capacity_measures_memory_per_connection_with_and_without_deflate():
    rows = json.loads(bench("capacity", "--connections", "200", "--json"))
    assert {(r["server"], r["deflate"]) for r in rows} >= {("raw websockets", "off"), ("raw websockets", "on"),
                                                           ("rtlab (websockets-sansio)", "off"),
                                                           ("rtlab (websockets-sansio)", "on")}
    for r in rows:
        assert r["connections"] == 200 and r["kib_per_connection"] > 0
        assert r["deflate_negotiated"] == (r["deflate"] == "on"), r  # the extension really was in use


def test_sse_fans_out_to_every_subscriber_of_every_server_and_counts_the_overload():
    rows = json.loads(bench("sse", "--clients", "50", "--messages", "5", *ONE_ROUND,
                            "--overload-subscribers", "20", "--overload-announcements", "50", "--json"))
    fan = [r for r in rows if r["scenario"] == "fanout"]
    over = [r for r in rows if r["scenario"] == "overload"]
    assert [r["server"] for r in fan] == ["raw-ws", "rtlab-ws", "rtlab-sse", "fastapi-sse", "sse-starlette"]
    for r in fan:
        assert r["complete"] and r["rounds"] == 1 and r["deliveries"] == 50 * 5, r
        assert r["cpu_reliable"] is False and r["bytes_per_delivery"] > 50
    assert fan[0]["vs_raw"] == 1.0
    assert [r["server"] for r in over] == ["rtlab-sse", "fastapi-sse", "sse-starlette"]
    for r in over:
        assert r["expected"] == 20 * 50 and r["refused"] == 0 and r["stuck"] == 0, r
        # every subscriber either got everything or was visibly dropped
        assert r["deliveries"] == r["expected"] or r["dropped"] > 0, r


def test_scaleout_prints_memory_and_redis_side_by_side():
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    lines = bench("scaleout", "--receivers", "5", "--paced", "20", "--burst", "20", *ONE_ROUND).strip().splitlines()
    assert lines[0].split()[:2] == ["broker", "receivers"]
    assert [line.split()[0] for line in lines[1:3]] == ["memory", "redis"]
    assert lines[3].startswith("* from less than")  # one round: its CPU figures are flagged as noise
