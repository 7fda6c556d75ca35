"""A headless Chromium for notebooks and tests, through Playwright.

Uses the system's ``chromium`` (Debian: ``apt-get install chromium``): Playwright's own browser
download is neither needed nor used.
"""
from __future__ import annotations

import os
import shutil
from contextlib import asynccontextmanager

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


INSTALL_HINT = ("no Chromium found: on Debian/Ubuntu `sudo apt-get install chromium`; "
                "elsewhere `python -m playwright install chromium`")


class NoBrowser(RuntimeError):
    """No Chromium on this machine."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise NoBrowser(INSTALL_HINT)
    return path


@asynccontextmanager
async def chromium(optional: bool = False):
    """``async with chromium() as browser:`` a headless browser, closed on exit.

    With ``optional=True`` (notebooks), a machine without Chromium yields ``None`` after one line
    saying how to get one, so that the notebook goes on; under CI (``CI=true``) it still fails.
    """
    from playwright.async_api import async_playwright

    try:
        path = chromium_path()
    except NoBrowser as exc:
        if not optional or in_ci():
            raise
        print(f"skipped: {exc}")
        yield None
        return
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
