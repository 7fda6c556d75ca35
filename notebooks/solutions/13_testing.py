# Solutions to the exercises of 13_testing.ipynb.
# Each section replaces the exercise cell of the same ID (tests/test_exercises.py runs them).

# %% exercise: catch-the-leak
%%writefile test_rooms.py
import asyncio
import json

from websockets.asyncio.client import connect


async def next_message(ws) -> dict:
    """The next chat message, skipping any other kind."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "message":
            return message


async def test_a_message_stays_in_its_room(server):
    """A message sent in one room reaches no member of another room."""
    url = server.ws_url + "/ws/room/"
    async with asyncio.timeout(8):
        async with connect(url + "red?username=ann") as ann, connect(url + "blue?username=bo") as bo:
            for ws in (ann, bo):
                assert json.loads(await ws.recv())["type"] == "joined"  # both registered
            await ann.send("secret")
            assert (await next_message(ann))["text"] == "secret"  # the server has handled it
            await bo.send("marker")
            got = await next_message(bo)  # a leak would come before the marker
            assert (got["room"], got["text"]) == ("blue", "marker")

# %% exercise: seats-property
%%writefile test_seats.py
from hypothesis import given
from hypothesis import strategies as st

USERS = ["ann", "bo", "cy"]
STEPS = st.lists(st.tuples(st.sampled_from(["take", "free"]), st.sampled_from(USERS)), max_size=30)


@given(steps=STEPS)
def test_seats_follow_the_model(impl, steps):
    """For any sequence of takes and frees by several users, Seats answers as the model does."""
    seats, model = impl.Seats(limit=2), {user: 0 for user in USERS}
    for action, user in steps:
        if action == "take":
            expected = model[user] < 2
            assert seats.take(user) == expected, (action, user, model)
            model[user] += expected
        else:
            seats.free(user)
            model[user] = max(model[user] - 1, 0)
        for someone in USERS:
            assert seats.held(someone) == model[someone], (someone, model)
