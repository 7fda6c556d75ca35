"""Checks of notebook 11 (behind a proxy, over TLS): each answer runs for real, with a fresh uvicorn
process of the notebook's app (``proxied.py``) and a fresh nginx (``rtlab.tools.nginx``)."""
from __future__ import annotations

import asyncio

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlab.tools import nginx
from rtlab.tools.checks import NotYet, exercise, expect, expect_true

UPGRADE_MAP = """
map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}
"""


def _first_line(exc: BaseException) -> str:
    """The line of an error that says what is wrong (nginx's [emerg] line, if there is one)."""
    text = str(exc).strip().splitlines()
    emerg = [line for line in text if "[emerg]" in line]
    return (emerg or text or [type(exc).__name__])[-1]


def _start(site: str, **values) -> nginx.Nginx:
    """nginx with the learner's config; a config nginx refuses is a verdict, with nginx's words."""
    proxy = nginx.Nginx(site, **values)
    try:
        return proxy.start()
    except KeyError as missing:
        verdict = f"your config has a placeholder without a value: {missing.args[0]}"
    except RuntimeError as refused:
        verdict = _first_line(refused)  # "nginx refused its config: nginx: [emerg] ..."
    proxy.stop()  # removes its directory too
    raise NotYet(verdict)


@exercise("pass-the-upgrade", "pass the upgrade",
          hint="a WebSocket handshake reaches the app only over HTTP/1.1 and with the two hop-by-hop headers "
               "set explicitly; the Origin check needs the Host the client sent, port included "
               "(section 'The upgrade')")
async def pass_the_upgrade(nb):
    block = nb.upgrade_location()
    expect_true("upgrade_location() returns the location block as text", isinstance(block, str),
                f"got {type(block).__name__}")
    expect_true("the block proxies to the app's placeholder", "@@APP@@" in block,
                "it has no @@APP@@: the check fills it with the app's address")
    app = nb.uvicorn("proxied:app")
    try:
        site = UPGRADE_MAP + "server {\n    listen 127.0.0.1:@@PORT@@;\n" + block + "\n}\n"
        proxy = _start(site, APP=app.address)
        try:
            expect("a handshake to /ws through your block", await nb.handshake(f"{proxy.ws_url}/ws"),
                   "101 Switching Protocols, echo: hello")
            async with httpx.AsyncClient(timeout=10) as client:
                whoami = await client.get(f"{proxy.url}/whoami")
            expect("GET /whoami through your block: status", whoami.status_code, 200)
            expect("the URL the app builds behind your block (its host and port are the proxy's)",
                   whoami.json()["stream_url"], f"{proxy.url}/ticks")
            expect("/ws/checked with the Origin of a page from the proxy",
                   await nb.handshake(f"{proxy.ws_url}/ws/checked", origin=proxy.url),
                   "101 Switching Protocols, echo: hello")
        finally:
            proxy.stop()
    finally:
        app.stop()


IDLE = 6.0  # seconds the check keeps a WebSocket idle behind a proxy that cuts after 2


@exercise("outlive-the-timeout", "outlive the proxy's timeout", timeout=40,
          hint="the proxy closes a connection on which nothing came from the app within its timeout: something "
               "must come from the app more often than that, and a browser cannot send anything of the kind "
               "itself (section 'Idle timeouts')")
async def outlive_the_timeout(nb):
    options = nb.keepalive_options(2.0)
    expect_true("keepalive_options(2.0) returns a list of strings",
                isinstance(options, (list, tuple)) and all(isinstance(o, str) for o in options),
                f"got {options!r}")
    try:
        app = nb.uvicorn("proxied:app", *options)
    except RuntimeError as failed:
        raise NotYet(f"uvicorn did not start with your options: {_first_line(failed)}") from None
    try:
        proxy = _start(nb.UPGRADE, APP=app.address, READ_TIMEOUT="2s")
        try:
            async with connect(f"{proxy.ws_url}/ws", ping_interval=None, open_timeout=10) as ws:
                loop = asyncio.get_running_loop()
                started = loop.time()
                try:
                    async with asyncio.timeout(IDLE):
                        await ws.recv()  # nothing is sent to the client: this returns only if it is closed
                except TimeoutError:
                    pass
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd else 1006
                    raise NotYet(f"an idle WebSocket through a proxy with a 2 s timeout was closed with {code} "
                                 f"after {loop.time() - started:.1f} s of the {IDLE:g} s") from None
                await ws.send("still there?")
                async with asyncio.timeout(10):
                    expect(f"the echo after {IDLE:g} s idle", await ws.recv(), "still there?")
        finally:
            proxy.stop()
    finally:
        app.stop()


FORGED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


@exercise("trust-only-the-proxy", "trust only the proxy",
          hint="uvicorn applies forwarded headers only from the addresses it trusts: the proxy's address must be "
               "among them, and no address a direct client can come from (section 'TLS at the proxy')")
async def trust_only_the_proxy(nb):
    options = nb.behind_the_proxy()
    expect_true("behind_the_proxy() returns a list of strings",
                isinstance(options, (list, tuple)) and all(isinstance(o, str) for o in options),
                f"got {options!r}")
    try:
        app = nb.uvicorn("proxied:app", *options)
    except RuntimeError as failed:
        raise NotYet(f"uvicorn did not start with your options: {_first_line(failed)}") from None
    try:
        edge = _start(nb.TLS_SITE, APP=app.address, CERT=nb.tls.cert_file, KEY=nb.tls.key_file)
        try:
            async with httpx.AsyncClient(verify=nb.trusting, timeout=10) as client:
                seen = (await client.get(f"{edge.https_url}/whoami")).json()
            expect("/whoami through the TLS proxy", seen,
                   {"scheme": "https", "client": "127.0.0.1", "stream_url": f"{edge.https_url}/ticks"})
            expect("/ws/checked through the proxy, with the proxy's origin",
                   await nb.handshake(f"{edge.wss_url}/ws/checked", ssl=nb.trusting, origin=edge.https_url),
                   "101 Switching Protocols, echo: hello")
        finally:
            edge.stop()
        async with httpx.AsyncClient(timeout=10) as client:
            direct = (await client.get(f"http://{app.address}/whoami", headers=FORGED)).json()
        expect("/whoami asked directly from 127.0.0.1 with forged X-Forwarded-* headers",
               {"scheme": direct["scheme"], "client": direct["client"]},
               {"scheme": "http", "client": "127.0.0.1"})
    finally:
        app.stop()
