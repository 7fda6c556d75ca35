"""rtlab deployed: deploy/rtlab.conf in a real nginx, in front of ``python -m rtlab serve --workers 2``
over a real redis-server, over plain HTTP and TLS (a trustme CA), tested from outside.

The proxy runs the deploy file itself: only its placeholders (ports, paths, names) are filled,
and ``proxy_read_timeout`` is lowered to 2 s (RTLAB_PING_INTERVAL 0.5 s) so that outliving it
takes seconds. Each property is shown failing where it can fail: a buffered stream, a stream
idle past the timeout, a default TLS client, a browser that does not trust the certificate.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import signal
import ssl
import threading
import time
from pathlib import Path

import httpx
import httpx_sse
import pytest
import uvicorn
from fastapi import FastAPI, Request, WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from rtlab import LabServer
from rtlab.tools.browser import CHROMIUM_ARGS, system_chromium
from rtlab.tools.nginx import Nginx, render
from rtlab.tools.redis import free_port

from .helpers import recv_until, wait_until
from .rtlab_cli import RtlabProcess, close_code, pid_alive, spread

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "rtlab.conf"
READ_TIMEOUT = 2.0  # seconds: the test's proxy_read_timeout (the file says 75s)
PING_INTERVAL = 0.5  # RTLAB_PING_INTERVAL, below it
SHIPPED_TIMEOUT = "proxy_read_timeout 75s;"


def site_copy(extra: str = "") -> str:
    """deploy/rtlab.conf with the test's read timeout (and ``extra`` directives in its location)."""
    text = DEPLOY.read_text()
    assert text.count(SHIPPED_TIMEOUT) == 1
    return text.replace(SHIPPED_TIMEOUT, f"proxy_read_timeout {READ_TIMEOUT:g}s;{extra}")


class Stack:
    def __init__(self, rtlab: RtlabProcess, proxy: Nginx) -> None:
        self.rtlab, self.proxy = rtlab, proxy
        self.http_origin = proxy.url
        self.https_origin = proxy.https_url


@contextlib.contextmanager
def deployed(redis_url: str):
    port, tls_port = free_port(), free_port()
    env = {"RTLAB_SECRET": "deploy-tests", "RTLAB_PING_INTERVAL": str(PING_INTERVAL),
           "RTLAB_ALLOWED_ORIGINS": f"http://127.0.0.1:{port},https://127.0.0.1:{tls_port}"}
    with RtlabProcess("--workers", "2", "--broker", redis_url, "--forwarded-allow-ips", "127.0.0.1",
                      env=env) as rtlab:
        with Nginx(site_copy(), tls=True, UPSTREAM=f"127.0.0.1:{rtlab.port}", LISTEN_ADDRESS="127.0.0.1",
                   SERVER_NAME="127.0.0.1 localhost", PORT=port, TLS_PORT=tls_port) as proxy:
            yield Stack(rtlab, proxy)


@pytest.fixture(scope="module")
def stack(nginx_available, redis_server):
    with deployed(redis_server.url) as s:
        yield s


def test_the_proxy_runs_the_deploy_file(stack):
    shipped = render(DEPLOY.read_text(), stack.proxy.values)
    assert stack.proxy.config.replace(f"proxy_read_timeout {READ_TIMEOUT:g}s;", SHIPPED_TIMEOUT) == shipped
    assert httpx.get(stack.proxy.url + "/health", timeout=30).json() == {"status": "ok"}


def test_chat_crosses_both_workers_through_the_proxy(stack):
    proxy, pids = stack.proxy, stack.rtlab.pids
    with contextlib.ExitStack() as clients:
        # Users join until each worker holds two of them: the handshake says which worker took it.
        plain = spread(clients, f"{proxy.ws_url}/ws/chat/crossing?username=plain", pids, origin=stack.http_origin)
        tls = spread(clients, f"{proxy.wss_url}/ws/chat/crossing?username=tls", pids, origin=stack.https_origin,
                     ssl=proxy.tls.ssl_context())
        first, second = pids
        pairs = [(plain[first][0], plain[second][0]), (tls[second][0], tls[first][0]),
                 (plain[second][1], tls[first][1])]
        for n, (sender, receiver) in enumerate(pairs):
            text = f"crossing {n}"
            sender.send(json.dumps({"type": "message", "message": text}))
            got = recv_until(receiver, lambda m: m.get("type") == "message" and m["message"] == text, timeout=10)
            assert got["message"] == text
        room = httpx.get(proxy.https_url + "/rooms/crossing", verify=proxy.tls.ssl_context(), timeout=30).json()
        assert set(room["users"]) == {"plain", "tls"}


@contextlib.contextmanager
def stock_uvicorn(app, **config):
    """uvicorn with its own defaults (``**config`` on top; its logging left alone) in a thread; yields its port."""
    # log_config=None: uvicorn would otherwise reconfigure logging for the whole test process
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, **config))

    def run() -> None:
        with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
            runner.run(server.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=30, what="uvicorn started")
    assert server.started
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def scheme_app() -> FastAPI:
    app = FastAPI(title="what-the-app-sees")

    @app.get("/seen")
    async def seen(request: Request) -> dict:
        return {"scheme": request.url.scheme, "client": request.client.host}

    @app.websocket("/ws/seen")
    async def ws_seen(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"scheme": ws.url.scheme})
        await ws.close()

    return app


@pytest.mark.parametrize("trusted", [True, False])
def test_behind_the_proxy_the_app_sees_https_only_when_uvicorn_trusts_it(nginx_available, trusted):
    # Stock uvicorn (serve(app)) trusts X-Forwarded-* from 127.0.0.1 by default; from an address
    # not in forwarded_allow_ips it ignores them and the app sees the proxy's own plain request.
    with stock_uvicorn(scheme_app(), **({} if trusted else {"forwarded_allow_ips": "10.9.9.9"})) as port:
        with Nginx(site_copy(), tls=True, UPSTREAM=f"127.0.0.1:{port}", LISTEN_ADDRESS="127.0.0.1",
                   SERVER_NAME="127.0.0.1 localhost") as proxy:
            # nginx appends the address it saw (this test's, 127.0.0.1) to the X-Forwarded-For it got.
            seen = httpx.get(proxy.https_url + "/seen", verify=proxy.tls.ssl_context(),
                             headers={"X-Forwarded-For": "203.0.113.7"}, timeout=30).json()
            with connect(f"{proxy.wss_url}/ws/seen", ssl=proxy.tls.ssl_context(), open_timeout=30) as ws:
                ws_scheme = json.loads(ws.recv(timeout=10))["scheme"]
    assert (seen["scheme"], ws_scheme) == (("https", "wss") if trusted else ("http", "ws"))
    # Trusted, uvicorn reads X-Forwarded-For from the right, past the trusted addresses (here the
    # test's own 127.0.0.1, which is a trusted one too); untrusted, the app sees the proxy's address.
    assert seen["client"] == ("203.0.113.7" if trusted else "127.0.0.1")


def test_without_allowed_origins_a_page_through_the_proxy_is_refused(nginx_available):
    # Why RTLAB_ALLOWED_ORIGINS: the deploy file passes Host without the port, so a browser's
    # Origin (with the proxy's port) is not the server's own origin as rtlab sees it.
    with LabServer() as lab, Nginx(site_copy(), tls=True, UPSTREAM=f"127.0.0.1:{lab.port}",
                                   LISTEN_ADDRESS="127.0.0.1", SERVER_NAME="127.0.0.1 localhost") as proxy:
        for url, origin, extra in ((proxy.ws_url, proxy.url, {}),
                                   (proxy.wss_url, proxy.https_url, {"ssl": proxy.tls.ssl_context()})):
            with pytest.raises(InvalidStatus) as refused:
                with connect(f"{url}/ws/echo", origin=origin, open_timeout=30, **extra):
                    pass
            assert refused.value.response.status_code == 403


def test_a_foreign_origin_is_refused_and_the_proxys_own_are_let_through(stack):
    proxy = stack.proxy
    with pytest.raises(InvalidStatus) as refused:
        with connect(f"{proxy.ws_url}/ws/echo", origin="https://evil.example", open_timeout=30):
            pass
    assert refused.value.response.status_code == 403
    for url, origin, extra in ((proxy.ws_url, stack.http_origin, {}),
                               (proxy.wss_url, stack.https_origin, {"ssl": proxy.tls.ssl_context()})):
        with connect(f"{url}/ws/echo", origin=origin, open_timeout=30, **extra) as ws:
            ws.send("hi")
            assert ws.recv(timeout=10) == "Echo: hi"


def arrivals(base_url: str, path: str, **client_kwargs) -> tuple[httpx.Headers, list[float], list[str]]:
    """When each event of a finite stream arrived, from the request's start: (headers, stamps, data)."""
    with httpx.Client(base_url=base_url, timeout=30, **client_kwargs) as client:
        start = time.monotonic()
        with httpx_sse.connect_sse(client, "GET", path) as source:
            headers = source.response.headers
            stamps, data = [], []
            for event in source.iter_sse():
                stamps.append(time.monotonic() - start)
                data.append(event.data)
    return headers, stamps, data


N_EVENTS, INTERVAL = 6, 0.4
STREAM = f"/sse?interval={INTERVAL}&limit={N_EVENTS}"


def spaced(stamps: list[float]) -> bool:
    """Sent over (N-1) x 0.4 = 2 s, the events came spread out, not together at the end.

    Judged with a 10x margin, whatever the machine's load: a spread of at least 0.2 s."""
    return stamps[-1] - stamps[0] >= (N_EVENTS - 1) * INTERVAL / 10


def over(proxy: Nginx, scheme: str) -> tuple[str, dict]:
    return (proxy.url, {}) if scheme == "http" else (proxy.https_url, {"verify": proxy.tls.ssl_context()})


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_sse_events_pass_the_proxy_one_by_one(stack, scheme):
    url, kwargs = over(stack.proxy, scheme)
    _, stamps, data = arrivals(url, STREAM, **kwargs)
    assert data == [f"Message {n}" for n in range(1, N_EVENTS + 1)]
    assert spaced(stamps), stamps


def other_proxy(stack: Stack, extra: str) -> Nginx:
    """Another nginx (own ports and certificate) on the same workers: the deploy file plus ``extra``."""
    values = {name: stack.proxy.values[name] for name in ("UPSTREAM", "LISTEN_ADDRESS", "SERVER_NAME")}
    return Nginx(site_copy(extra=extra), tls=True, **values)


def test_over_tls_the_stream_is_held_back_when_the_proxy_ignores_x_accel_buffering(nginx_available, stack):
    # The control: nginx told to ignore the header buffers the stream as it does any response.
    # Over TLS it then holds the small chunks (measured here: until the response ends, with
    # every event in one burst); over plain HTTP nginx 1.22 passed them at once all the same.
    with other_proxy(stack, " proxy_ignore_headers X-Accel-Buffering;") as buffering:
        url, kwargs = over(buffering, "https")
        _, stamps, data = arrivals(url, STREAM, **kwargs)
    assert len(data) == N_EVENTS
    assert not spaced(stamps), stamps
    assert stamps[0] >= (N_EVENTS - 1) * INTERVAL  # nothing before the last event was sent


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_gzip_on_for_event_streams_does_not_bunch_them(nginx_available, stack, scheme):
    # A deployer's nginx.conf may compress text/event-stream; X-Accel-Buffering: no makes nginx
    # flush each event through the compressor too.
    with other_proxy(stack, " gzip on; gzip_types text/event-stream; gzip_min_length 0;") as gzipping:
        url, kwargs = over(gzipping, scheme)
        headers, stamps, data = arrivals(url, STREAM, **kwargs)
    assert headers["content-encoding"] == "gzip"  # compressed indeed (httpx decodes it)
    assert data == [f"Message {n}" for n in range(1, N_EVENTS + 1)]
    assert spaced(stamps), stamps


class Reader:
    """Events of an endless SSE stream read by a thread into a queue, as they arrive."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.events: queue.Queue = queue.Queue()
        self._cm = httpx_sse.connect_sse(client, "GET", path)
        self.source = self._cm.__enter__()
        assert self.source.response.status_code == 200
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self.source.iter_sse():
                self.events.put(event)
        except httpx.HTTPError as exc:
            self.events.put(exc)

    def next(self, timeout: float = 10.0):
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


@pytest.mark.parametrize("path", ["/sse/announcements", "/sse/notifications/dana"])
def test_fan_out_events_pass_the_proxy_each_before_the_next_is_sent(stack, path):
    proxy = stack.proxy
    with httpx.Client(base_url=proxy.https_url, verify=proxy.tls.ssl_context(), timeout=30) as client:
        reader = Reader(client, path)
        try:
            # Subscribed by now: the stream's headers are sent once its subscription is in place.
            for n in range(4):
                text = f"event {n}"
                target = "/announce" if "announce" in path else "/notify/dana"
                # POSTs go to either worker; the subscriber holds one of them: Redis carries the event.
                assert client.post(target, json={"message": text}).status_code == 200
                event = reader.next(timeout=10)  # buffered, it would wait for the stream's end
                assert json.loads(event.data)["message"] == text and event.id
        finally:
            reader.close()


def test_an_idle_websocket_outlives_the_proxy_read_timeout(stack):
    proxy = stack.proxy
    with connect(f"{proxy.ws_url}/ws/echo", origin=stack.http_origin, open_timeout=30) as ws:
        with pytest.raises(TimeoutError):  # idle for 3x the proxy's read timeout: nothing but pings
            ws.recv(timeout=3 * READ_TIMEOUT)
        ws.send("still open")
        assert ws.recv(timeout=10) == "Echo: still open"


def test_a_stream_idle_past_the_read_timeout_is_cut_by_the_proxy(stack):
    # The control: an SSE stream is silent for 30 s between events (and no ping before 15 s):
    # the proxy ends it after its read timeout, and says why in its error log.
    proxy = stack.proxy
    start = time.monotonic()
    seen = []
    with httpx.Client(base_url=proxy.url, timeout=30) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            with httpx_sse.connect_sse(client, "GET", "/sse?interval=30&limit=2") as source:
                for event in source.iter_sse():
                    seen.append(event.data)
    assert seen == ["Message 1"] and time.monotonic() - start < 25
    wait_until(lambda: "upstream timed out" in proxy.error_log(), timeout=10, what="nginx's log line")


def test_wss_needs_the_ca_and_works_with_it(stack):
    proxy = stack.proxy
    with pytest.raises(ssl.SSLCertVerificationError):
        with connect(f"{proxy.wss_url}/ws/echo", open_timeout=30, ssl=ssl.create_default_context()):
            pass
    with connect(f"{proxy.wss_url}/ws/echo", open_timeout=30, ssl=proxy.tls.ssl_context()) as ws:
        ws.send("over TLS")
        assert ws.recv(timeout=10) == "Echo: over TLS"


CHROMIUM = system_chromium()


@pytest.fixture
def chromium_playwright():
    if CHROMIUM is None:
        pytest.skip("needs a system Chromium (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def test_the_chat_page_over_https_in_chromium(stack, chromium_playwright):
    proxy = stack.proxy
    # Chromium takes no extra CA on its command line; it accepts this one certificate by its
    # public key's hash (SPKI pin). Without the pin the page does not load.
    plain = chromium_playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        with pytest.raises(Exception, match="ERR_CERT_AUTHORITY_INVALID"):
            plain.new_page().goto(proxy.https_url + "/")
    finally:
        plain.close()
    browser = chromium_playwright.chromium.launch(executable_path=CHROMIUM,
                                                  args=CHROMIUM_ARGS + proxy.tls.chromium_args())
    try:
        page = browser.new_context().new_page()
        page.goto(f"{proxy.https_url}/?room=browser&username=ann")
        page.wait_for_function("document.getElementById('status').textContent === 'connected'", timeout=30_000)
        assert page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
        with connect(f"{proxy.wss_url}/ws/chat/browser?username=bob", origin=stack.https_origin,
                     open_timeout=30, ssl=proxy.tls.ssl_context()) as bob:
            bob.send(json.dumps({"type": "message", "message": "hello ann"}))
            page.wait_for_function("document.getElementById('messages').textContent.includes('hello ann')",
                                   timeout=30_000)
            page.fill("#messageInput", "hello bob")
            page.press("#messageInput", "Enter")
            got = recv_until(bob, lambda m: m.get("type") == "message" and m["username"] == "ann", timeout=30)
            assert got["message"] == "hello bob"
    finally:
        browser.close()


def test_sigterm_stops_every_worker_and_every_client_gets_a_close_frame(nginx_available, redis_server):
    with deployed(redis_server.url) as s:
        proxy, rtlab = s.proxy, s.rtlab
        with contextlib.ExitStack() as clients:
            held = spread(clients, f"{proxy.ws_url}/ws/echo", rtlab.pids, origin=s.http_origin)
            held_tls = spread(clients, f"{proxy.wss_url}/ws/echo", rtlab.pids, per_worker=1,
                              origin=s.https_origin, ssl=proxy.tls.ssl_context())
            client = clients.enter_context(httpx.Client(base_url=proxy.url, timeout=30))
            stream = clients.enter_context(httpx_sse.connect_sse(client, "GET", "/sse/announcements"))
            events = stream.iter_sse()
            rtlab.send_signal(signal.SIGTERM)
            for sockets in [*held.values(), *held_tls.values()]:
                for ws in sockets:
                    assert close_code(ws) in (1001, 1012)  # a close frame through nginx, not a dropped socket
            assert list(events) == []  # the stream ended with a complete body
        assert rtlab.wait(30) == 0
        wait_until(lambda: not any(pid_alive(p) for p in rtlab.pids), timeout=10, what="every worker gone")


def test_every_sse_stream_of_rtlab_sends_x_accel_buffering_no(lab):
    # Every route that answers text/event-stream, found in the app rather than listed by hand:
    # the ticking streams (fastapi.sse) and the fan-out ones (EventStream) alike.
    def routes(container):
        for route in container.routes:
            if hasattr(route, "original_router"):  # an included router (FastAPI 0.16x keeps them nested)
                yield from routes(route.original_router)
            else:
                yield route

    paths = sorted(r.path for r in routes(lab.app) if getattr(r, "path", "").startswith("/sse"))
    assert {"/sse", "/sse/announcements", "/sse/notifications/{user_id}", "/sse/with-id"} <= set(paths)
    with httpx.Client(base_url=lab.url, timeout=30) as client:
        for path in paths:
            url = path.replace("{user_id}", "ann").replace("{task_id}", "t1").replace("{service}", "api") \
                .replace("{symbol}", "ACME")
            with client.stream("GET", url, params={"interval": 0.01, "limit": 1}) as response:
                assert response.headers["content-type"].startswith("text/event-stream"), path
                assert response.headers.get("x-accel-buffering") == "no", path
