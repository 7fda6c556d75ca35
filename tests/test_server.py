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
from fastapi import FastAPI, WebSocket  # at module level: annotations are resolved in module globals
from websockets.sync.client import connect

import rtlab
from rtlab import LabServer, ServerStartError, serve

from .helpers import wait_until


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
    assert not [t for t in threading.enumerate() if t.name.startswith("rtlab-server")]


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
    assert "Uvicorn running" in lab.logs(200) and "CTRL+C" not in lab.logs(200)


def test_warnings_in_the_server_thread_are_logged_not_printed(capfd):
    import warnings

    with LabServer():
        thread = next(t for t in threading.enumerate() if t.name.startswith("rtlab-server"))
        assert thread.is_alive()
        done = threading.Event()

        def warn_in_a_server_thread():
            warnings.warn("from the server's thread", UserWarning)
            done.set()

        t = threading.Thread(target=warn_in_a_server_thread, name="rtlab-server-99")
        t.start()
        t.join(5)
        assert done.is_set()
    out, err = capfd.readouterr()
    assert "from the server's thread" not in err
    assert any("from the server's thread" in line for line in rtlab.server._buffer.lines())


def _nodelay(sock) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_the_cli_socket_gives_accepted_connections_tcp_nodelay():
    """Without it every reused keep-alive response waits ~40 ms (Nagle + delayed ACK)."""
    import asyncio

    from rtlab.__main__ import listen

    async def accepted_option() -> int:
        got = asyncio.get_running_loop().create_future()

        def on_client(reader, writer):
            got.set_result(_nodelay(writer.get_extra_info("socket")))
            writer.close()

        sock = listen("127.0.0.1", 0)
        server = await asyncio.start_server(on_client, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
            option = await asyncio.wait_for(got, 5)
            writer.close()
        return option

    assert asyncio.run(accepted_option()) == 1


def test_lab_server_connections_have_tcp_nodelay(lab):
    with connect(f"{lab.ws_url}/ws/notifications/ann") as ws:
        ws.recv(timeout=5)
        (conn,) = lab.services.hub.connections
        transport = conn.ws.scope["transport"] if "transport" in conn.ws.scope else conn._proto.transport
        assert _nodelay(transport.get_extra_info("socket")) == 1


def test_serve_runs_a_learners_app_and_replaces_it_when_served_again():
    def make_app(reply: str) -> FastAPI:
        app = FastAPI(title="mine")

        @app.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.send_text(reply)
            if reply == "boom":
                raise RuntimeError("the learner's bug")
            await websocket.close()

        return app

    first = serve(make_app("one"))
    first_port = first.port
    with connect(f"{first.ws_url}/ws") as ws:
        assert ws.recv(timeout=5) == "one"
    second = serve(make_app("boom"))  # the same name ("mine"): the first server is replaced
    try:
        assert not first.running and second.running and second is not first
        with pytest.raises(OSError):  # nothing listens on the first port any more
            socket.create_connection(("127.0.0.1", first_port), timeout=2).close()
        with connect(f"{second.ws_url}/ws") as ws:
            assert ws.recv(timeout=5) == "boom"
            with pytest.raises(Exception):
                ws.recv(timeout=5)
        assert any("RuntimeError: the learner's bug" in e for e in second.errors())
        assert repr(second) == "<server of 'mine' running>"
    finally:
        second.stop()


def test_each_server_shows_only_its_own_log_lines_and_errors():
    """OS thread ids are reused: a server's lines are told apart by its thread's own name."""
    def app_that_fails() -> FastAPI:
        app = FastAPI(title="fails")

        @app.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await websocket.accept()
            raise RuntimeError("a fault")

        return app

    for title in ("first", "second"):
        server = serve(app_that_fails())  # the second replaces the first
        with connect(f"{server.ws_url}/ws?who={title}") as ws, pytest.raises(Exception):
            ws.recv(timeout=5)
        wait_until(lambda: server.errors(), what="the error logged")
        assert len(server.errors()) == 1, server.errors()
        assert f"who={title}" in server.logs() and ("who=first" in server.logs()) == (title == "first")
    server.stop()
