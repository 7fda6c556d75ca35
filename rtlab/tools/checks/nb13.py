"""Checks of notebook 13 (testing real-time code): the learner's own test files, run against code
with and without the bug they must catch.

Each check copies the learner's test file into a folder of its own, next to several versions of the
code under test (correct ones, and wrong ones in the ways the notebook warns about), and runs pytest
once, in a process of its own, with the ``impl`` fixture parametrized over those versions. A test that
catches the bug fails on every wrong version and passes on every correct one; a test that hangs is
stopped by pytest-timeout and reported as such.
"""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import NotYet, exercise

PER_TEST = 10  # seconds a learner's test may take against one version (pytest-timeout)
HUNG = "from pytest-timeout"  # in the report of a test that pytest-timeout stopped

PYTEST_INI = """[pytest]
addopts = -p no:nbval -p no:xdist
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

CONFTEST = '''
import importlib
import json

import pytest
from hypothesis import HealthCheck, settings

from rtlab import serve

settings.register_profile("check", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("check")  # a loaded machine is not a failure of the learner's test

VERSIONS = {versions!r}


@pytest.fixture(scope="session", params=VERSIONS, ids=VERSIONS)
def impl(request):
    return importlib.import_module(request.param)


@pytest.fixture
def server(impl):
    running = serve(impl.app, name=impl.__name__)
    try:
        yield running
    finally:
        running.stop()


_reports = []


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _reports.append({{"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
                          "text": str(report.longrepr or "")[-2000:]}})


def pytest_sessionfinish(session):
    with open("outcomes.json", "w") as f:
        json.dump(_reports, f)
'''


def _outcomes(test_file: Path, modules: dict[str, str], extra: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """Run ``test_file`` against each module of ``modules`` (name -> source): reports per module."""
    if not test_file.exists():
        raise NotYet(f"there is no {test_file.name} yet: run the exercise's cell (it writes the file) first")
    folder = Path(tempfile.mkdtemp(prefix="rtlab-13-check-"))
    try:
        (folder / "pytest.ini").write_text(PYTEST_INI)
        (folder / "conftest.py").write_text(CONFTEST.format(versions=list(modules)))
        for name, source in modules.items():
            (folder / f"{name}.py").write_text(source)
        shutil.copy(test_file, folder / test_file.name)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=line",
               "--timeout", str(PER_TEST), test_file.name, *extra]
        try:
            done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True,
                                  timeout=PER_TEST * len(modules) + 30)
        except subprocess.TimeoutExpired:
            raise NotYet(f"{test_file.name} gave no verdict in time: bound every wait") from None
        path = folder / "outcomes.json"
        if not path.exists():
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise NotYet(f"pytest could not run {test_file.name}: {' / '.join(tail)}")
        reports = json.loads(path.read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not reports:
        raise NotYet(f"{test_file.name} holds no test (a function named test_...)")
    by_module: dict[str, list[dict]] = {name: [] for name in modules}
    for report in reports:
        ids = re.findall(r"\[([^\]]*)\]", report["nodeid"])
        for name in modules:
            if ids and re.search(rf"(^|-){re.escape(name)}($|-)", ids[-1]):
                by_module[name].append(report)
    for report in reports:
        if "NotImplementedError" in report["text"]:
            raise NotImplementedError(f"your turn: write the test in {test_file.name}")
    return by_module


def _first_line(report: dict) -> str:
    """The line of a failure report that says what failed (an exception group's leaf, not its frame)."""
    lines = [re.sub(r"^[\s|]*(E\s+)?", "", line).strip() for line in report["text"].splitlines()]
    lines = [line for line in lines if line and not re.match(r"^[-+=_ ]+(\d+ [-+=_]+)?$", line)]
    telling = [line for line in lines if re.search(r"Error|Exception|Failed|assert|timeout", line)]
    return (telling or lines or [report["outcome"]])[-1][:200]


def _verdict(by_module: dict[str, list[dict]], correct: dict[str, str], wrong: dict[str, str]) -> None:
    """correct and wrong: module name -> how the statement names that version."""
    for name, label in correct.items():
        reports = by_module[name]
        bad = [r for r in reports if r["outcome"] != "passed"]
        if bad:
            hung = HUNG in bad[0]["text"]
            raise NotYet(f"on {label}, your test {'hung (stopped after %d s)' % PER_TEST if hung else 'failed'}: "
                         f"{_first_line(bad[0])}")
        if not any(r["when"] == "call" for r in reports):
            raise NotYet(f"on {label}, no test ran")
    for name, label in wrong.items():
        reports = by_module[name]
        failed = [r for r in reports if r["outcome"] == "failed"]
        if not failed:
            raise NotYet(f"on {label}, your test passed: it does not catch the bug")
        if all(HUNG in r["text"] for r in failed):
            raise NotYet(f"on {label}, your test hung until it was stopped after {PER_TEST} s: bound every wait")


# -- 1 · catch the planted bug ---------------------------------------------------------------
ROOMS = '''
import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

LEAK, DELAY = {leak}, {delay}
app = FastAPI(title="rooms")
members: dict[str, set[WebSocket]] = {{}}
deliveries = []  # with DELAY: one queue of deliveries for the server, slow but in order


async def deliver_all(queue):
    while True:
        ws, message = await queue.get()
        await asyncio.sleep(DELAY)
        try:
            await ws.send_json(message)
        except Exception:
            pass


async def send(ws, message):
    if not DELAY:
        await ws.send_json(message)
        return
    if not deliveries:
        queue = asyncio.Queue()
        deliveries.extend([queue, asyncio.create_task(deliver_all(queue))])
    deliveries[0].put_nowait((ws, message))


@app.websocket("/ws/room/{{room}}")
async def room_endpoint(websocket: WebSocket, room: str, username: str):
    await websocket.accept()
    if DELAY:
        await asyncio.sleep(DELAY)
    members.setdefault(room, set()).add(websocket)
    await send(websocket, {{"type": "joined", "room": room}})
    try:
        while True:
            text = await websocket.receive_text()
            message = {{"type": "message", "room": room, "username": username, "text": text}}
            targets = [ws for sockets in members.values() for ws in sockets] if LEAK else list(members[room])
            for ws in targets:
                await send(ws, message)
    except WebSocketDisconnect:
        pass
    finally:
        members[room].discard(websocket)
'''

ROOM_VERSIONS = {
    "rooms_fixed": ROOMS.format(leak=False, delay=0),
    "rooms_fixed_slow": ROOMS.format(leak=False, delay=0.3),
    "rooms_buggy": ROOMS.format(leak=True, delay=0),
    "rooms_buggy_slow": ROOMS.format(leak=True, delay=0.3),
}


@exercise("catch-the-leak", "catch the planted bug", timeout=90,
          hint="a message must be shown to reach no other room, on a slow server too: wait for each member to be "
               "registered before acting, and prove the absence with a marker read up to, never with a wait "
               "that hopes (section 2, 'No sleep as synchronisation')")
async def catch_the_leak(nb):
    test_file = Path(nb.workdir) / "test_rooms.py"
    by_module = await asyncio.to_thread(_outcomes, test_file, ROOM_VERSIONS)
    _verdict(by_module,
             correct={"rooms_fixed": "a fixed server", "rooms_fixed_slow": "a fixed but slow server"},
             wrong={"rooms_buggy": "rooms.py as given", "rooms_buggy_slow": "the same bug on a slow server"})


# -- 2 · a property of the seats -------------------------------------------------------------
SEATS = '''
class Seats:
    def __init__(self, limit: int):
        self.limit, self.seats = limit, {{}}

    def take(self, user: str) -> bool:
        if {full}:
            return False
        self.seats[user] = self.seats.get(user, 0) + 1
        return True

    def free(self, user: str) -> None:
        if self.seats.get(user, 0):
            {free}

    def held(self, user: str) -> int:
        return self.seats.get(user, 0)
'''

PER_USER_FULL = "self.seats.get(user, 0) >= self.limit"
ONE_FREE = "self.seats[user] -= 1"
SEAT_VERSIONS = {
    "seats_right": SEATS.format(full=PER_USER_FULL, free=ONE_FREE),
    "seats_one_over": SEATS.format(full="self.seats.get(user, 0) > self.limit", free=ONE_FREE),
    "seats_shared": SEATS.format(full="sum(self.seats.values()) >= self.limit", free=ONE_FREE),
    "seats_free_all": SEATS.format(full=PER_USER_FULL, free="self.seats[user] = 0"),
}


@exercise("seats-property", "a property of the seats", timeout=90,
          hint="the property must hold for any sequence: several users interleaved, frees as well as takes, "
               "runs long enough to reach the limit and go past it, each answer compared with the model "
               "(section 5, and the statement's rules)")
async def seats_property(nb):
    test_file = Path(nb.workdir) / "test_seats.py"
    by_module = await asyncio.to_thread(_outcomes, test_file, SEAT_VERSIONS, ("--hypothesis-seed", "0"))
    _verdict(by_module,
             correct={"seats_right": "a correct Seats"},
             wrong={"seats_one_over": "a Seats that lets a user take one seat over the limit",
                    "seats_shared": "a Seats whose limit counts every user's seats together",
                    "seats_free_all": "a Seats whose free() gives back all of the user's seats"})
