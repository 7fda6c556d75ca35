"""A headless Chromium for notebooks and tests, through Playwright.

Uses the system's ``chromium`` (Debian: ``apt-get install chromium``): Playwright's own browser
download is neither needed nor used.
"""
from __future__ import annotations

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


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("no chromium on this machine: install it with `apt-get install chromium` "
                           "(Debian/Ubuntu) and run again")
    return path


@asynccontextmanager
async def chromium():
    """``async with chromium() as browser:`` a headless browser, closed on exit."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
