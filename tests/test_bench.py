"""The benchmark runs end to end and prints its table (figures are not asserted: see the README)."""
import subprocess
import sys


def test_fanout_benchmark_runs_and_prints_a_table():
    out = subprocess.run([sys.executable, "-m", "rtlab.bench", "fanout", "--clients", "20", "--messages", "20",
                          "--stalled", "0", "--repeat", "1", "--timeout", "60", "--servers", "raw,rtlab,naive"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["server", "clients", "stalled"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"raw", "rtlab", "naive"}
    assert all("stalled:" not in row for row in rows.values())  # every server delivered everything


def test_scaleout_benchmark_runs_and_prints_a_table():
    import shutil

    import pytest
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    out = subprocess.run([sys.executable, "-m", "rtlab.bench", "scaleout", "--receivers", "5", "--paced", "20",
                          "--burst", "20"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["broker", "receivers"]
    assert [line.split()[0] for line in lines[1:]] == ["memory", "redis"]
