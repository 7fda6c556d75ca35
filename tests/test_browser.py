"""The chat page and EventSource in a real headless Chromium (Debian's, driven by Playwright)."""
from __future__ import annotations

from pathlib import Path

import pytest

from rtlab import LabServer
from rtlab.tools.browser import CHROMIUM_ARGS, system_chromium

ARTIFACTS = Path(__file__).parent / "artifacts"

CHROMIUM = system_chromium()  # chromium, chromium-browser, google-chrome... on PATH, or the macOS app

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs a system Chromium (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_chat(browser, lab, room, username):
    page = browser.new_context().new_page()  # its own context: background pages are throttled
    page.goto(f"{lab.url}/?room={room}&username={username}")
    page.wait_for_function("document.getElementById('status').textContent === 'connected'", timeout=10_000)
    return page


def say(page, text):
    page.fill("#messageInput", text)
    page.press("#messageInput", "Enter")


def test_two_users_chat_through_the_page(browser, lab):
    ann = open_chat(browser, lab, "lounge", "ann")
    bob = open_chat(browser, lab, "lounge", "bob")
    ann.locator("#messages li", has_text="bob joined the room").wait_for(timeout=5000)
    say(ann, "hi bob")
    bob.locator("#messages li.message", has_text="hi bob").wait_for(timeout=5000)
    say(bob, "/w ann just for you")
    secret = ann.locator("#messages li.private", has_text="just for you")
    secret.wait_for(timeout=5000)
    assert secret.locator(".who").text_content() == "bob"
    bob.type("#messageInput", "typing...")
    ann.wait_for_function("document.getElementById('typing').textContent.includes('bob is typing')", timeout=5000)
    ARTIFACTS.mkdir(exist_ok=True)
    ann.screenshot(path=str(ARTIFACTS / "chat.png"))
    assert bob.locator("#messages li.private").count() == 0  # the sender only gets a delivery status


def test_html_and_script_from_users_stay_inert(browser, lab):
    evil_name = '<img src=x onerror="window.pwned=1">'
    evil_text = '<script>window.pwned=2</script><b id="injected">bold</b>'
    victim = open_chat(browser, lab, "x", "victim")
    attacker = open_chat(browser, lab, "x", evil_name.replace('"', "%22").replace("<", "%3C").replace(">", "%3E"))
    say(attacker, evil_text)
    shown = victim.locator("#messages li.message", has_text="bold")
    shown.wait_for(timeout=5000)
    assert shown.locator(".who").text_content() == evil_name
    assert evil_text in shown.text_content()
    for page in (victim, attacker):
        assert page.evaluate("window.pwned") is None
        assert page.locator("#injected").count() == 0 and page.locator("#messages img").count() == 0


def test_the_page_reconnects_after_a_server_restart(browser):
    first = LabServer().start()
    port = first.port
    page = open_chat(browser, first, "r", "ann")
    first.stop()
    page.wait_for_function("document.getElementById('status').textContent.startsWith('reconnecting')",
                           timeout=10_000)
    with LabServer(port=port) as second:
        page.wait_for_function("document.getElementById('status').textContent === 'connected'", timeout=15_000)
        say(page, "back again")
        page.locator("#messages li.message", has_text="back again").wait_for(timeout=5000)
        assert second.services.hub.users_in("chat:r") == ["ann"]


def test_the_page_uses_its_own_origin(browser, lab):
    page = open_chat(browser, lab, "o", "ann")
    urls = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert not any("localhost:8000" in u for u in urls)
    assert "location.host" in page.content()


def test_eventsource_resumes_with_no_gap_and_no_repeat(browser, lab):
    page = browser.new_context().new_page()
    page.goto(lab.url + "/health")
    ids = page.evaluate("""() => new Promise((resolve, reject) => {
        // The stream ends after 3 events; EventSource reconnects by itself with Last-Event-ID.
        const es = new EventSource("/sse/with-id?limit=3&interval=0.01");
        const seen = [];
        es.onmessage = (e) => {
            seen.push([e.lastEventId, e.data]);
            if (seen.length === 9) { es.close(); resolve(seen); }
        };
        setTimeout(() => { es.close(); reject(new Error("only " + JSON.stringify(seen))); }, 15000);
    })""")
    assert ids == [[str(n), f"Event {n}"] for n in range(1, 10)]


def test_a_refused_page_says_why_and_stops_retrying(browser, lab):
    page = browser.new_context().new_page()
    page.goto(f"{lab.url}/?room=r&username=" + "x" * 100)
    page.wait_for_function("document.getElementById('status').textContent.startsWith('refused')", timeout=10_000)
    assert "longer than 64" in page.text_content("#status")


def test_the_page_resumes_after_a_restart_with_no_gap_and_no_duplicate(browser, redis_server):
    """The page's server dies; messages go through the other server; the page's server comes back:
    the page reconnects with ``since`` = the last id it showed and shows every message once, in order."""
    from websockets.sync.client import connect

    from .helpers import recv_until

    a = LabServer(broker=redis_server.url).start()
    port = a.port
    with LabServer(broker=redis_server.url) as b:
        page = open_chat(browser, a, "resume", "ann")
        say(page, "m1")
        page.locator("#messages li.message", has_text="m1").wait_for(timeout=5000)
        a.stop()
        page.wait_for_function("document.getElementById('status').textContent.startsWith('reconnecting')",
                               timeout=10_000)
        with connect(f"{b.ws_url}/ws/chat/resume?username=bob") as bob:
            for text in ("m2", "m3"):
                bob.send(f'{{"type": "message", "message": "{text}"}}')
                recv_until(bob, lambda m, t=text: m.get("message") == t)
            with LabServer(broker=redis_server.url, port=port):
                page.wait_for_function("document.getElementById('status').textContent === 'connected'",
                                       timeout=15_000)
                bob.send('{"type": "message", "message": "m4"}')
                page.locator("#messages li.message", has_text="m4").wait_for(timeout=5000)
                shown = page.locator("#messages li.message").all_text_contents()
                # Both of ann's join notices, the first from before the restart: the page kept its
                # list (a page that redraws from the history loses the first; this wait would fail).
                page.locator("#messages li.system", has_text="ann joined the room").nth(1).wait_for(timeout=5000)
    assert [t[-2:] for t in shown] == ["m1", "m2", "m3", "m4"], shown
