"""A headless Chromium for notebooks and tests, through Playwright.

Which Chromium, in this order:

1. the system's: ``chromium``, ``chromium-browser``, ``google-chrome``... on ``PATH`` (Debian:
   ``apt-get install chromium``); on macOS, Chromium or Google Chrome in ``/Applications``; on
   Windows, Google Chrome where its installer puts it;
2. Playwright's own, fetched once by ``python -m playwright install chromium``.

If the system's is found but does not start, Playwright's is tried next.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

__all__ = ["CHROMIUM_ARGS", "INSTALL_HINT", "WS_OUTCOME_JS", "NoBrowser", "chromium", "chromium_path", "in_ci",
           "install_command", "install_hint", "system_chromium"]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# What a page's WebSocket reports when it closes: code, reason, and whether it was clean.
WS_OUTCOME_JS = """url => new Promise(resolve => {
    const ws = new WebSocket(url);
    const seen = [];
    ws.onmessage = e => seen.push(e.data);
    ws.onclose = e => resolve({code: e.code, reason: e.reason, wasClean: e.wasClean, messages: seen});
})"""

# Looked up on PATH, in this order.
SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class NoBrowser(RuntimeError):
    """No Chromium on this machine (or none that starts)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _linux_distribution() -> str:
    """``debian``, ``ubuntu`` or ``""``, from /etc/os-release."""
    try:
        fields = dict(line.rstrip("\n").split("=", 1) for line in open("/etc/os-release", encoding="utf-8")
                      if "=" in line)
    except OSError:
        return ""
    ids = " ".join(fields.get(key, "").strip('"') for key in ("ID", "ID_LIKE")).split()
    return "ubuntu" if "ubuntu" in ids else "debian" if "debian" in ids else ""


def _python() -> str:
    """This interpreter, as a command to paste into a terminal."""
    if sys.platform == "win32":
        return subprocess.list2cmdline([sys.executable])
    return shlex.quote(sys.executable)


def install_command(platform: str | None = None, distribution: str | None = None) -> str:
    """How to get a Chromium on this platform (or the one named), as a command to paste."""
    platform = platform or sys.platform
    playwright = f"{_python()} -m playwright install chromium"
    if platform in ("darwin", "win32"):
        return f"`{playwright}` (or install Google Chrome)"
    distribution = _linux_distribution() if distribution is None else distribution
    if distribution == "debian":
        return f"`sudo apt-get install chromium` (or `{playwright}`)"
    if distribution == "ubuntu":  # Ubuntu's apt chromium is only a wrapper around a snap
        return f"`{playwright} --with-deps`"
    return f"`{playwright}` (or your distribution's chromium package)"


def install_hint(platform: str | None = None, distribution: str | None = None) -> str:
    """One line saying that there is no Chromium, and the command that gets one."""
    return f"no Chromium found: {install_command(platform, distribution)}"


INSTALL_HINT = install_hint()


def _app_paths() -> list[Path]:
    """Where a Chromium or Chrome is usually installed, off PATH."""
    if sys.platform == "darwin":
        apps = ["Chromium.app/Contents/MacOS/Chromium", "Google Chrome.app/Contents/MacOS/Google Chrome"]
        return [root / app for root in (Path("/Applications"), Path.home() / "Applications") for app in apps]
    if sys.platform == "win32":
        roots = [os.environ.get(name) for name in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")]
        return [Path(root, "Google", "Chrome", "Application", "chrome.exe") for root in roots if root]
    return []


def system_chromium() -> str | None:
    """The system's Chromium (or Chrome), or None."""
    for name in SYSTEM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    for path in _app_paths():
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def chromium_path() -> str:
    """The system's Chromium; NoBrowser if there is none (Playwright's own is not looked for)."""
    path = system_chromium()
    if path is None:
        raise NoBrowser(INSTALL_HINT)
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


async def launch(browser_type):
    """Launch a headless Chromium with ``browser_type`` (Playwright's ``p.chromium``): the system's,
    else Playwright's own. Raises NoBrowser, with the install hint, when neither starts."""
    from playwright.async_api import Error

    failed = []
    path = system_chromium()
    if path is not None:
        try:
            return await browser_type.launch(executable_path=path, args=CHROMIUM_ARGS)
        except Error as exc:
            failed.append(f"{path} did not start ({_first_line(exc)})")
    try:
        return await browser_type.launch(args=CHROMIUM_ARGS)
    except Error as exc:
        if "Executable doesn't exist" not in str(exc):  # installed, but does not start
            failed.append(f"Playwright's Chromium did not start ({_first_line(exc)})")
        if failed:
            raise NoBrowser(f"{'; '.join(failed)}; to get one that starts: {install_command()}") from exc
        raise NoBrowser(INSTALL_HINT) from exc


@asynccontextmanager
async def chromium(optional: bool = False):
    """``async with chromium() as browser:`` a headless browser, closed on exit.

    With ``optional=True`` (notebooks), a machine without Chromium yields ``None`` after one line
    saying how to get one, so that the notebook goes on; under CI (``CI=true``) it still fails.
    """
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    try:
        browser = await launch(playwright.chromium)
    except NoBrowser as exc:
        await playwright.stop()
        if not optional or in_ci():
            raise
        print(f"skipped: {exc}")
        yield None
        return
    except BaseException:
        await playwright.stop()
        raise
    try:
        yield browser
    finally:
        try:
            await browser.close()
        finally:
            await playwright.stop()
