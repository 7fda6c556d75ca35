"""rtlab.tools.nginx: a real nginx as a child process, on free ports, from a template."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from rtlab import serve
from rtlab.tools import nginx
from rtlab.tools.nginx import Nginx, NoNginx, placeholders, render

from .helpers import wait_until
from .rtlab_cli import pid_alive

HELLO = """
server {
    listen 127.0.0.1:@@PORT@@;
    location / { default_type text/plain; return 200 "@@GREETING@@ $request_method\\n"; }
}
"""


def test_render_fills_placeholders_and_leaves_nginx_syntax_alone():
    text = 'map $http_upgrade $c { default upgrade; "" close; } server { listen @@PORT@@; } # @@PORT@@'
    assert placeholders(text) == {"PORT"}
    assert render(text, {"PORT": 8080, "UNUSED": 1}) == text.replace("@@PORT@@", "8080")
    with pytest.raises(KeyError, match="@@PORT@@"):
        render(text, {})


def test_install_hint_and_no_nginx(monkeypatch):
    assert "apt-get install nginx" in nginx.install_hint("linux")
    assert "brew install nginx" in nginx.install_hint("darwin")
    monkeypatch.setattr(nginx, "_binary", lambda: None)
    assert not nginx.available()
    with pytest.raises(NoNginx, match="nginx is not installed"):
        Nginx(HELLO)


def test_a_missing_value_is_an_error_before_nginx_starts(nginx_available):
    proxy = Nginx(HELLO)
    with pytest.raises(KeyError, match="@@GREETING@@"):
        proxy.start()
    assert proxy.proc is None and not proxy.prefix.exists()
    proxy.values["GREETING"] = "now"  # the same object starts once it has every value
    with proxy:
        assert httpx.get(proxy.url + "/", timeout=30).text == "now GET\n"


def test_runs_on_a_free_port_with_its_logs_and_stops(nginx_available):
    with Nginx(HELLO, GREETING="hello") as proxy:
        assert proxy.running and proxy.port == proxy.listen_ports["PORT"]
        assert httpx.get(proxy.url + "/", timeout=30).text == "hello GET\n"
        assert "start worker process" in proxy.error_log()
        # nginx logs a request after its response has gone out: the line may come a moment later
        wait_until(lambda: '"GET / HTTP/1.1" 200' in proxy.access_log(), timeout=10, what="the access log line")
        prefix, pid = proxy.prefix, proxy.proc.pid
    assert not pid_alive(pid) and not prefix.exists()


def test_a_wrong_config_is_refused_with_nginx_s_words(nginx_available):
    with pytest.raises(RuntimeError, match='unknown directive "bogus"'):
        Nginx("server { bogus; }").start()


def test_reload_takes_a_new_config_and_keeps_the_old_one_if_the_new_is_wrong(nginx_available):
    with Nginx(HELLO, GREETING="before") as proxy:
        port = proxy.port
        proxy.reload(GREETING="after")
        assert httpx.get(proxy.url + "/", timeout=30).text == "after GET\n" and proxy.port == port
        with pytest.raises(RuntimeError, match="unknown directive"):
            proxy.reload(site="server { bogus; }")
        assert httpx.get(proxy.url + "/", timeout=30).text == "after GET\n"
        assert proxy.site_template == HELLO


def test_a_response_spooled_to_disk_reaches_a_slow_client_whole(nginx_available):
    # Started as root, nginx's workers run as nobody: they must be able to write the proxy's
    # temp files in the prefix, or a response bigger than the memory buffers is cut short.
    body = os.urandom(5 * 1024 * 1024)
    app = FastAPI(title="big")
    app.get("/big")(lambda: Response(body, media_type="application/octet-stream"))
    upstream = serve(app, name="nginx-tool-big")
    site = "server { listen 127.0.0.1:@@PORT@@; location / { proxy_pass http://@@UPSTREAM@@; } }"
    try:
        with Nginx(site, UPSTREAM=f"127.0.0.1:{upstream.port}") as proxy:
            got = bytearray()
            with httpx.stream("GET", proxy.url + "/big", timeout=30) as r:
                for chunk in r.iter_raw(64 * 1024):
                    got += chunk
                    time.sleep(0.005)  # a slow reader: nginx spools what it cannot hold in memory
            assert bytes(got) == body, proxy.error_log(last=5)
            assert "Permission denied" not in proxy.error_log()
    finally:
        upstream.stop()


def test_nginx_dies_with_the_process_that_started_it(nginx_available):
    code = ("import sys; from rtlab.tools.nginx import Nginx; p = Nginx(sys.argv[1], GREETING='x').start(); "
            "print(p.proc.pid, p.prefix, flush=True); sys.stdin.read()")
    prefix = ""
    owner = subprocess.Popen([sys.executable, "-c", code, HELLO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        pid, prefix = owner.stdout.readline().split()
        pid = int(pid)
        assert pid_alive(pid)
        owner.send_signal(signal.SIGKILL)  # no atexit: the kernel's PR_SET_PDEATHSIG must do it
        owner.wait(10)
        wait_until(lambda: not pid_alive(pid), timeout=10, what="nginx gone with its owner")
    finally:
        owner.kill()
        owner.wait()
        shutil.rmtree(prefix, ignore_errors=True)  # its owner, killed, could not remove it
