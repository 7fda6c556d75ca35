"""rtlab.tools off Debian: which Chromium a notebook gets, and what it is told when there is none;
redis-server's absence said the same way; and what `make lab` starts and prints.

The browser lookup runs in real child processes whose PATH hides the system Chromium and whose
PLAYWRIGHT_BROWSERS_PATH points at a directory of our own: empty (Playwright's Chromium not
installed) or holding a stand-in at the path Playwright launches. Each stand-in is a small script
that writes its name to a log, then starts the real Chromium (or fails, to play a broken one).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rtlab.tools import browser, lab, redis
from rtlab.tools.browser import NoBrowser, system_chromium
from rtlab.tools.redis import NoRedis, RedisServer

REAL_CHROMIUM = system_chromium()

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in browsers are shell scripts")
needs_chromium = pytest.mark.skipif(REAL_CHROMIUM is None, reason="needs a Chromium (apt-get install chromium)")

LOOKUP = """
import asyncio
from rtlab.tools.browser import chromium

async def main():
    async with chromium(optional={optional}) as browser:
        print("BROWSER", None if browser is None else browser.version)

asyncio.run(main())
"""


def run_lookup(tmp_path: Path, path_dirs: list[Path], browsers: Path, *, optional: bool = True,
               ci: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.pathsep.join(map(str, path_dirs)), "PLAYWRIGHT_BROWSERS_PATH": str(browsers)}
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-c", LOOKUP.format(optional=optional)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def stand_in(path: Path, name: str, log: Path, works: bool = True) -> None:
    """An executable at `path` that logs `name`, then runs the real Chromium (or exits 1)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    then = (f'PATH={shlex.quote(os.environ["PATH"])} exec {shlex.quote(str(REAL_CHROMIUM))} "$@"'
            if works else "exit 1")
    path.write_text(f"#!/bin/sh\necho {name} >> {shlex.quote(str(log))}\n{then}\n")
    path.chmod(0o755)


def launched(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def dirs(tmp_path):
    """An empty bin dir (PATH without any Chromium), an empty Playwright browsers dir, a launch log."""
    empty_bin, browsers = tmp_path / "bin", tmp_path / "ms-playwright"
    empty_bin.mkdir()
    browsers.mkdir()
    return empty_bin, browsers, tmp_path / "launches.log"


@pytest.fixture(scope="module")
def playwright_executable(tmp_path_factory):
    """Where Playwright looks for its own headless Chromium, relative to PLAYWRIGHT_BROWSERS_PATH,
    as its own error says when nothing is there (found by the same lookup, with nothing installed)."""
    tmp = tmp_path_factory.mktemp("probe")
    (tmp / "bin").mkdir()
    (tmp / "ms-playwright").mkdir()
    result = run_lookup(tmp, [tmp / "bin"], tmp / "ms-playwright", optional=False)
    found = re.search(r"Executable doesn't exist at (\S+)", result.stderr)
    assert found, result.stderr
    return Path(found[1]).relative_to(tmp / "ms-playwright")


@posix_only
def test_nothing_installed_optional_yields_none_after_one_line(tmp_path, dirs):
    empty_bin, browsers, _ = dirs
    result = run_lookup(tmp_path, [empty_bin], browsers)
    assert result.returncode == 0, result.stderr
    hint, last = result.stdout.splitlines()
    assert last == "BROWSER None"
    assert hint == f"skipped: {browser.INSTALL_HINT}"
    assert "-m playwright install chromium" in hint


@posix_only
def test_nothing_installed_tries_playwright_and_fails_under_ci(tmp_path, dirs):
    empty_bin, browsers, _ = dirs
    result = run_lookup(tmp_path, [empty_bin], browsers, ci=True)
    assert result.returncode != 0 and "BROWSER" not in result.stdout
    assert f"NoBrowser: {browser.INSTALL_HINT}" in result.stderr
    # Playwright's own Chromium was looked for, where PLAYWRIGHT_BROWSERS_PATH says
    assert f"Executable doesn't exist at {browsers}{os.sep}" in result.stderr


@posix_only
@needs_chromium
def test_the_system_chromium_comes_first(tmp_path, dirs, playwright_executable):
    empty_bin, browsers, log = dirs
    stand_in(empty_bin / "chromium", "system", log)
    stand_in(browsers / playwright_executable, "playwright", log)
    result = run_lookup(tmp_path, [empty_bin], browsers)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("BROWSER ") and "None" not in result.stdout
    assert launched(log) == ["system"]


@posix_only
@needs_chromium
@pytest.mark.parametrize("name", ["chromium-browser", "google-chrome"])
def test_other_names_on_path_count_as_system(tmp_path, dirs, name):
    empty_bin, browsers, log = dirs
    stand_in(empty_bin / name, "system", log)
    result = run_lookup(tmp_path, [empty_bin], browsers)
    assert result.returncode == 0, result.stderr
    assert launched(log) == ["system"]


@posix_only
@needs_chromium
def test_playwright_chromium_when_there_is_no_system_one(tmp_path, dirs, playwright_executable):
    empty_bin, browsers, log = dirs
    stand_in(browsers / playwright_executable, "playwright", log)
    result = run_lookup(tmp_path, [empty_bin], browsers, ci=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("BROWSER ") and "None" not in result.stdout
    assert launched(log) == ["playwright"]


@posix_only
@needs_chromium
def test_a_system_chromium_that_does_not_start_gives_way_to_playwright(tmp_path, dirs, playwright_executable):
    empty_bin, browsers, log = dirs
    stand_in(empty_bin / "chromium", "broken", log, works=False)
    stand_in(browsers / playwright_executable, "playwright", log)
    result = run_lookup(tmp_path, [empty_bin], browsers, ci=True)
    assert result.returncode == 0, result.stderr
    assert launched(log) == ["broken", "playwright"]


@posix_only
def test_a_broken_system_chromium_and_no_playwright_one_is_said_in_one_line(tmp_path, dirs):
    empty_bin, browsers, log = dirs
    stand_in(empty_bin / "chromium", "broken", log, works=False)
    result = run_lookup(tmp_path, [empty_bin], browsers)
    assert result.returncode == 0, result.stderr
    hint, last = result.stdout.splitlines()
    assert last == "BROWSER None" and launched(log) == ["broken"]
    assert hint.startswith(f"skipped: {empty_bin / 'chromium'} did not start (")
    assert hint.endswith(f"to get one that starts: {browser.install_command()}")


def test_chromium_path_is_the_system_one_only(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(browser, "_app_paths", lambda: [])
    assert browser.system_chromium() is None
    with pytest.raises(NoBrowser, match="no Chromium found"):
        browser.chromium_path()


@pytest.mark.parametrize("platform, distribution, command", [
    ("linux", "debian", "sudo apt-get install chromium"),
    ("linux", "ubuntu", "-m playwright install chromium --with-deps"),
    ("linux", "", "-m playwright install chromium"),
    ("darwin", None, "-m playwright install chromium"),
    ("win32", None, "-m playwright install chromium"),
])
def test_the_browser_hint_names_the_command_for_the_platform(platform, distribution, command):
    hint = browser.install_hint(platform, distribution)
    assert hint.startswith("no Chromium found: ") and command in hint and "\n" not in hint
    assert sys.executable in hint  # the interpreter that has Playwright installed


# --- redis-server ---------------------------------------------------------------------------

def test_without_redis_server_available_says_so_and_the_error_says_how(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert redis.available() is False
    with pytest.raises(NoRedis) as caught:
        RedisServer()
    assert isinstance(caught.value, RuntimeError)  # what notebooks and tests caught before
    assert str(caught.value) == redis.install_hint()


@pytest.mark.parametrize("platform, command", [
    ("linux", "sudo apt-get install redis-server"),
    ("darwin", "brew install redis"),
    ("win32", "WSL"),
])
def test_the_redis_hint_names_the_command_for_the_platform(platform, command):
    hint = redis.install_hint(platform)
    assert hint.startswith("redis-server is not installed: ") and command in hint and "\n" not in hint


@pytest.mark.skipif(not redis.available(), reason="needs redis-server (apt-get install redis-server)")
def test_redis_server_keeps_its_api():
    with RedisServer() as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert server._answers()
        server.restart()
        assert server._answers()
    assert server.proc is None and not server._answers()


# --- make lab -------------------------------------------------------------------------------

@pytest.mark.skipif(not sys.platform.startswith("linux") or not redis.available(),
                    reason="needs Linux and redis-server")
def test_a_killed_owner_leaves_no_redis_server_behind():
    """A kernel killed mid-notebook must not leave an orphan redis-server (PR_SET_PDEATHSIG)."""
    from .helpers import wait_until

    code = "from rtlab.tools.redis import RedisServer; import sys, time\n" \
           "r = RedisServer().start(); print(r.proc.pid, flush=True); sys.stdin.read()"
    owner = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pid = int(owner.stdout.readline())
    owner.kill()
    owner.wait()

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, timeout=10, what="the redis-server to end with its owner")


def test_lab_settings_turn_the_news_prompt_off(tmp_path):
    path = lab.write_settings(tmp_path)
    assert path == tmp_path / "overrides.d" / "rtlab.json"
    assert json.loads(path.read_text()) == {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
    assert lab.settings_dir("/some/venv") == Path("/some/venv/share/jupyter/lab/settings")


def test_the_lab_url_opens_the_notebook_with_the_token():
    server = {"url": "http://127.0.0.1:8890/", "token": "abc"}
    assert lab.notebook_url(server, "00 start.ipynb") == "http://127.0.0.1:8890/lab/tree/00%20start.ipynb?token=abc"
    assert lab.notebook_url({"url": "http://h:1/base/", "token": ""}, "n.ipynb") == "http://h:1/base/lab/tree/n.ipynb"


@posix_only
def test_the_lab_prints_one_line_that_opens_the_notebook_and_stops_on_sigterm(tmp_path):
    notebook = tmp_path / "nb" / "first.ipynb"
    notebook.parent.mkdir()
    notebook.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    settings = tmp_path / "settings"
    lab.write_settings(settings)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtlab.tools.lab", str(notebook), "--log", str(tmp_path / "lab.log"), "--",
         f"--LabApp.app_settings_dir={settings}", "--ServerApp.open_browser=False"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # blocks until the server answers (or the wrapper gives up)
        found = re.fullmatch(r"JupyterLab: (http://127\.0\.0\.1:(\d+)/lab/tree/first\.ipynb\?token=(\w+))  "
                             r"\(Ctrl\+C stops it; its log: .*lab\.log\)\n", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
        url, port, token = found.groups()
        assert httpx.get(url, timeout=30).status_code == 200
        headers = {"Authorization": f"token {token}"}
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/contents/first.ipynb?content=0", headers=headers, timeout=30).status_code == 200
        notification = httpx.get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification",
                                 headers=headers, timeout=30).json()
        assert notification["schema"]["properties"]["fetchNews"]["default"] == "false"
        (info,) = [json.loads(p.read_text()) for p in (tmp_path / "runtime").glob("jpserver-*.json")]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert out == ""  # nothing after the one line
    with pytest.raises(ProcessLookupError):  # JupyterLab itself is gone too
        os.kill(info["pid"], 0)
