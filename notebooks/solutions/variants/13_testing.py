# Variants of the exercises of 13_testing.ipynb: wrong ones must get "not yet", valid ones "passed".

# %% wrong: catch-the-leak: happy path only: both members in one room, and the message reaches them
%%writefile test_rooms.py
import asyncio
import json

from websockets.asyncio.client import connect


async def test_a_message_stays_in_its_room(server):
    url = server.ws_url + "/ws/room/red"
    async with asyncio.timeout(8):
        async with connect(url + "?username=ann") as ann, connect(url + "?username=bo") as bo:
            for ws in (ann, bo):
                assert json.loads(await ws.recv())["type"] == "joined"
            await ann.send("hello")
            for ws in (ann, bo):
                assert json.loads(await ws.recv())["text"] == "hello"

# %% wrong: catch-the-leak: always passes: checks only that the sender gets its own message back
%%writefile test_rooms.py
import asyncio
import json

from websockets.asyncio.client import connect


async def test_a_message_stays_in_its_room(server):
    async with asyncio.timeout(8), connect(server.ws_url + "/ws/room/red?username=ann") as ann:
        assert json.loads(await ann.recv())["type"] == "joined"
        await ann.send("secret")
        assert json.loads(await ann.recv())["text"] == "secret"

# %% wrong: catch-the-leak: proves the absence by waiting 0.2 s for nothing (misses a leak that comes later)
%%writefile test_rooms.py
import asyncio
import json

import pytest
from websockets.asyncio.client import connect


async def test_a_message_stays_in_its_room(server):
    url = server.ws_url + "/ws/room/"
    async with connect(url + "red?username=ann") as ann, connect(url + "blue?username=bo") as bo:
        for ws in (ann, bo):
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "joined"
        await ann.send("secret")
        assert json.loads(await asyncio.wait_for(ann.recv(), 5))["text"] == "secret"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bo.recv(), 0.2)  # nothing for bo within 0.2 s

# %% wrong: catch-the-leak: sleeps instead of waiting for "joined" (on a slow server bo is not registered yet)
%%writefile test_rooms.py
import asyncio
import json

from websockets.asyncio.client import connect


async def test_a_message_stays_in_its_room(server):
    url = server.ws_url + "/ws/room/"
    async with asyncio.timeout(8):
        async with connect(url + "red?username=ann") as ann, connect(url + "blue?username=bo") as bo:
            await asyncio.sleep(0.1)  # "surely both are registered by now"
            await ann.send("secret")
            await bo.send("marker")
            texts = []
            while "marker" not in texts:
                message = json.loads(await bo.recv())
                if message["type"] == "message":
                    texts.append(message["text"])
            assert texts == ["marker"]

# %% valid: catch-the-leak: a synchronous test with websockets.sync and recv(timeout=...)
%%writefile test_rooms.py
import json

from websockets.sync.client import connect


def read_texts_until(ws, marker: str) -> list[str]:
    texts = []
    while marker not in texts:
        message = json.loads(ws.recv(timeout=5))
        if message["type"] == "message":
            texts.append(message["text"])
    return texts


def test_a_message_stays_in_its_room(server):
    with connect(server.ws_url + "/ws/room/red?username=ann") as ann, \
            connect(server.ws_url + "/ws/room/blue?username=bo") as bo:
        assert json.loads(ann.recv(timeout=5))["type"] == "joined"
        assert json.loads(bo.recv(timeout=5))["type"] == "joined"
        ann.send("secret")
        assert read_texts_until(ann, "secret") == ["secret"]
        bo.send("marker")
        assert read_texts_until(bo, "marker") == ["marker"]

# %% wrong: seats-property: one user only (a limit shared by every user passes)
%%writefile test_seats.py
from hypothesis import given
from hypothesis import strategies as st


@given(steps=st.lists(st.sampled_from(["take", "free"]), max_size=30))
def test_seats_follow_the_model(impl, steps):
    seats, held = impl.Seats(limit=2), 0
    for action in steps:
        if action == "take":
            assert seats.take("ann") == (held < 2)
            held = min(held + 1, 2)
        else:
            seats.free("ann")
            held = max(held - 1, 0)
        assert seats.held("ann") == held

# %% wrong: seats-property: takes only, never frees (a free() that gives back everything passes)
%%writefile test_seats.py
from hypothesis import given
from hypothesis import strategies as st

USERS = ["ann", "bo", "cy"]


@given(users=st.lists(st.sampled_from(USERS), max_size=30))
def test_seats_follow_the_model(impl, users):
    seats, model = impl.Seats(limit=2), {user: 0 for user in USERS}
    for user in users:
        assert seats.take(user) == (model[user] < 2)
        model[user] = min(model[user] + 1, 2)
        assert seats.held(user) == model[user]

# %% wrong: seats-property: a few hand-picked steps: two takes, another user's take, a free
%%writefile test_seats.py
def test_seats_follow_the_model(impl):
    seats = impl.Seats(limit=2)
    assert seats.take("ann") and seats.take("ann")
    assert seats.take("bo")
    seats.free("ann")
    assert seats.held("ann") == 1

# %% wrong: seats-property: checks only that held() never goes over the limit, not the answers of take()
%%writefile test_seats.py
from hypothesis import given
from hypothesis import strategies as st

USERS = ["ann", "bo", "cy"]


@given(steps=st.lists(st.tuples(st.sampled_from(["take", "free"]), st.sampled_from(USERS)), max_size=30))
def test_seats_follow_the_model(impl, steps):
    seats = impl.Seats(limit=2)
    for action, user in steps:
        getattr(seats, action)(user)
        assert seats.held(user) <= 3

# %% valid: seats-property: st.data() draws each step inside the test, a Counter as the model
%%writefile test_seats.py
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st


@given(st.data())
def test_seats_follow_the_model(impl, data):
    seats, model = impl.Seats(limit=2), Counter()
    for _ in range(data.draw(st.integers(0, 40))):
        user = data.draw(st.sampled_from("abcd"))
        if data.draw(st.booleans()):
            ok = seats.take(user)
            assert ok == (model[user] < 2)
            if ok:
                model[user] += 1
        else:
            seats.free(user)
            if model[user]:
                model[user] -= 1
        assert all(seats.held(u) == model[u] for u in "abcd")
