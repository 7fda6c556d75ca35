"""``python -m rtlab serve --workers N``: real worker processes over a real redis-server.

Refusals are one line on stderr and a non-zero exit. Served, the workers share one port, the
kernel spreads connections over them (every handshake says which worker took it:
``X-Rtlab-Worker``), clients on different workers chat, a worker killed with SIGKILL is
logged and replaced while the other goes on, and SIGTERM or SIGINT closes every client with
a close frame and stops every worker.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import time

import httpx
import httpx_sse
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rtlab.tools.redis import free_port
from rtlab.workers import max_workers, parse_workers

from .helpers import recv_until, wait_until
from .rtlab_cli import RtlabProcess, close_code, pid_alive, run_cli, spread, worker_of

ENV = {"RTLAB_SECRET": "worker-tests"}


def one_line(result) -> str:
    assert result.returncode != 0, result
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", ""])
def test_a_bad_worker_count_is_one_line_and_a_non_zero_exit(value):
    line = one_line(run_cli("--workers", value, env=ENV))
    assert line.startswith("rtlab: --workers"), line


def test_more_workers_than_the_machine_sensibly_runs_are_refused():
    cap = max_workers()
    assert parse_workers(str(cap)) == cap  # the limit itself is accepted; one more is not
    line = one_line(run_cli("--workers", str(cap + 1), env=ENV))
    assert f"at most {cap}" in line and "per CPU" in line, line


@pytest.mark.parametrize("how", [("--broker", "memory"), (), ("env",)])
def test_several_workers_with_the_memory_broker_are_refused_naming_it(how):
    args = ["--workers", "2"] + ([] if how == ("env",) else list(how))
    env = {**ENV, "RTLAB_BROKER": "memory"} if how == ("env",) else {"RTLAB_SECRET": ""}
    line = one_line(run_cli(*args, env=env))  # without RTLAB_SECRET still one line: no warning first
    assert "memory broker" in line and "Redis" in line, line


def test_an_unreachable_broker_is_one_line_with_workers():
    line = one_line(run_cli("--workers", "2", "--broker", f"redis://127.0.0.1:{free_port()}/0", env=ENV))
    assert line.startswith("rtlab: cannot reach the broker"), line


def test_a_taken_port_is_one_line_with_workers(redis_server):
    with RtlabProcess("--workers", "2", "--broker", redis_server.url, env=ENV) as server:
        line = one_line(run_cli("--port", str(server.port), "--workers", "2", "--broker", redis_server.url, env=ENV))
        assert line.startswith(f"rtlab: cannot listen on 127.0.0.1:{server.port}"), line


@pytest.fixture
def two_workers(redis_server):
    with RtlabProcess("--workers", "2", "--broker", redis_server.url, env=ENV) as server:
        yield server


def test_two_workers_share_the_port_and_chat_across_processes(two_workers):
    server = two_workers
    assert len(set(server.pids)) == 2 and all(pid_alive(p) for p in server.pids)
    assert int(httpx.get(server.url + "/health", timeout=30).headers["x-rtlab-worker"]) in server.pids
    with contextlib.ExitStack() as stack:
        held = spread(stack, f"{server.ws_url}/ws/echo", server.pids)
        for pid, sockets in held.items():
            for ws in sockets:
                ws.send(f"from {pid}")
                assert ws.recv(timeout=10) == f"Echo: from {pid}"
    # Chat: one user on each worker; each one's message reaches the other through Redis.
    with contextlib.ExitStack() as stack:
        users: dict[int, tuple[str, object]] = {}
        for n in range(60):
            if len(users) == 2:
                break
            ws = stack.enter_context(connect(f"{server.ws_url}/ws/chat/hall?username=u{n}", open_timeout=30))
            users.setdefault(worker_of(ws), (f"u{n}", ws))
        assert len(users) == 2, "every chat connection went to one worker"
        (name_a, a), (name_b, b) = users.values()
        for sender, name, receiver in ((a, name_a, b), (b, name_b, a)):
            sender.send(json.dumps({"type": "message", "message": f"hello from {name}"}))
            got = recv_until(receiver, lambda m: m.get("type") == "message" and m["username"] == name, timeout=10)
            assert got["message"] == f"hello from {name}"
        names = httpx.get(server.url + "/rooms/hall", timeout=30).json()["users"]
        assert {name_a, name_b} <= set(names)


def test_a_worker_killed_is_logged_and_replaced_while_the_other_goes_on(two_workers):
    server = two_workers
    victim, survivor = server.pids
    with contextlib.ExitStack() as stack:
        held = spread(stack, f"{server.ws_url}/ws/echo", server.pids)
        os.kill(victim, signal.SIGKILL)
        for ws in held[victim]:  # the kernel closed its sockets: no close frame from a dead process
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is None
        for ws in held[survivor]:  # the other worker's clients notice nothing
            ws.send("still here")
            assert ws.recv(timeout=10) == "Echo: still here"
        line = server.wait_for_line(server.err, rf"worker {victim} was killed by SIGKILL", timeout=30)
        assert "1 other worker goes on" in line, line
        # A new worker takes connections once it is ready (on a loaded machine the supervisor may
        # replace a slow starter again: any new pid it logged as started counts).
        deadline = time.monotonic() + 90
        while True:
            with connect(f"{server.ws_url}/ws/echo", open_timeout=30) as ws:
                pid = worker_of(ws)
                if pid not in (victim, survivor):
                    assert ws.send("new") is None and ws.recv(timeout=10) == "Echo: new"
                    break
            assert time.monotonic() < deadline, "no new worker took a connection"
        assert any(f"worker {pid} starts in its place" in line for line in server.err), server.err
        for ws in held[survivor]:
            ws.send("and now")
            assert ws.recv(timeout=10) == "Echo: and now"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_closes_every_client_with_a_close_frame_and_stops_every_worker(redis_server, sig):
    server = RtlabProcess("--workers", "2", "--broker", redis_server.url, env=ENV).start()
    try:
        with contextlib.ExitStack() as stack:
            held = spread(stack, f"{server.ws_url}/ws/chat/signals?username=u", server.pids)
            client = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
            stream = stack.enter_context(httpx_sse.connect_sse(client, "GET", "/sse/announcements"))
            events = stream.iter_sse()
            server.send_signal(sig)
            for sockets in held.values():
                for ws in sockets:
                    assert close_code(ws) in (1001, 1012)  # fails on a socket dropped without a close frame
            assert list(events) == []  # the stream ends cleanly: a complete chunked body, no error
        assert server.wait(30) == 0
        wait_until(lambda: not any(pid_alive(p) for p in server.pids), timeout=10, what="every worker gone")
    finally:
        server.stop()


def test_workers_stop_when_the_supervisor_is_killed(redis_server):
    server = RtlabProcess("--workers", "2", "--broker", redis_server.url, env=ENV).start()
    try:
        with connect(f"{server.ws_url}/ws/echo", open_timeout=30) as ws:
            server.send_signal(signal.SIGKILL)  # no chance to stop its workers: PR_SET_PDEATHSIG does
            assert close_code(ws) in (1001, 1012)
        wait_until(lambda: not any(pid_alive(p) for p in server.pids), timeout=15, what="every worker gone")
    finally:
        server.stop()
