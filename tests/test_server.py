"""The background-thread server and the command line."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest
from websockets.sync.client import connect

import rtlab
from rtlab import LabServer, ServerStartError, serve


def test_start_stop_start_three_times():
    server = LabServer()
    ports = []
    for _ in range(3):
        server.start()
        assert server.running
        assert httpx.get(server.url + "/health").json() == {"status": "ok"}
        ports.append(server.port)
        server.stop()
        assert not server.running
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{ports[-1]}/health")
    assert not [t for t in threading.enumerate() if t.name == "rtlab-server"]


def test_taken_port_raises_a_clear_error():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ServerStartError, match=rf"127\.0\.0\.1:{port}.*address already in use"):
            LabServer(port=port).start(timeout=5)


def test_serve_is_idempotent_and_repr_has_no_port():
    lab = serve()
    try:
        assert serve() is lab
        assert str(lab.port) not in repr(lab)
        assert "running" in repr(lab)
        with pytest.raises(RuntimeError, match="other settings"):
            serve(max_connections_per_user=7)
    finally:
        lab.stop()
    assert serve() is not lab  # a stopped default server is replaced
    rtlab.server._default.stop()


def test_starts_after_nest_asyncio_apply():
    # nest_asyncio patches asyncio for the whole process: run it in a child to keep ours clean.
    code = (
        "import asyncio, nest_asyncio, httpx\n"
        "nest_asyncio.apply()\n"
        "from rtlab import serve\n"
        "lab = serve()\n"
        "assert asyncio.run(asyncio.sleep(0, 'ok')) == 'ok'\n"
        "print(httpx.get(lab.url + '/health').json()['status'])\n"
        "lab.stop()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_context_manager_and_websocket_roundtrip():
    with LabServer() as lab:
        with connect(lab.ws_url + "/ws/client/42") as ws:
            assert ws.recv(timeout=5) == "Welcome, client 42"
            ws.send("hello")
            assert ws.recv(timeout=5) == "Echo: hello"
    assert not lab.running


def test_stop_closes_websockets_with_a_close_frame():
    lab = LabServer().start()
    with connect(lab.ws_url + "/ws/echo") as ws:
        lab.stop()
        with pytest.raises(Exception) as info:
            ws.recv(timeout=5)
        assert ws.close_code in (1001, 1012), info.value
        assert ws.protocol.close_rcvd is not None  # a close frame arrived, not a dropped socket


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def test_cli_serves_and_exits_cleanly_on_sigterm():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rtlab", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # printed once the socket listens
        assert f"http://127.0.0.1:{port}" in line
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json() == {"status": "ok"}
        with connect(f"ws://127.0.0.1:{port}/ws/echo") as ws:
            ws.send("x")
            assert ws.recv(timeout=5) == "Echo: x"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
        proc.communicate()


def test_cli_exits_non_zero_on_a_taken_port():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "rtlab", "serve", "--port", str(port)],
                             capture_output=True, text=True, timeout=30,
                             env={**os.environ, "RTLAB_SECRET": "test"})
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], out.stderr


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RTLAB_ALLOWED_ORIGINS", "http://a.example, http://b.example/")
    monkeypatch.setenv("RTLAB_MAX_MESSAGE_BYTES", "2048")
    s = rtlab.Settings()
    assert s.allowed_origins == ("http://a.example", "http://b.example")
    assert s.max_message_bytes == 2048
    monkeypatch.setenv("RTLAB_MAX_MESSAGE_BYTES", "1")
    with pytest.raises(ValueError, match="max_message_bytes"):
        rtlab.Settings()
    with pytest.raises(ValueError, match="broker"):
        rtlab.Settings(broker="kafka://x")


def test_logs_are_captured_not_printed(capfd):
    with LabServer() as lab:
        with connect(lab.ws_url + "/ws/echo") as ws:
            ws.send("x")
            ws.recv(timeout=5)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert "Uvicorn running" in lab.logs(200)


def test_warnings_in_the_server_thread_are_logged_not_printed(capfd):
    import warnings

    with LabServer():
        thread = next(t for t in threading.enumerate() if t.name == "rtlab-server")
        assert thread.is_alive()
        done = threading.Event()

        def warn_in_a_server_thread():
            warnings.warn("from the server's thread", UserWarning)
            done.set()

        t = threading.Thread(target=warn_in_a_server_thread, name="rtlab-server")
        t.start()
        t.join(5)
        assert done.is_set()
    out, err = capfd.readouterr()
    assert "from the server's thread" not in err
    assert any("from the server's thread" in line for line in rtlab.server._buffer.lines())
