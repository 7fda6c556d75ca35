"""Operational transformation: properties checked with hypothesis, then the server and clients."""
from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from rtlab import ot
from rtlab.documents import Document, OTClient

from .helpers import recv_json

ALPHABET = "abcxyz"


@st.composite
def doc_and_op(draw, doc=None):
    doc = draw(st.text(ALPHABET, max_size=20)) if doc is None else doc
    b = ot._Builder()
    i = 0
    while i < len(doc) and draw(st.booleans()):
        n = draw(st.integers(1, len(doc) - i))
        kind = draw(st.sampled_from(["retain", "delete", "insert"]))
        if kind == "insert":
            b.insert(draw(st.text(ALPHABET.upper(), min_size=1, max_size=4)))
        else:
            getattr(b, kind)(n)
            i += n
    if draw(st.booleans()):
        b.insert(draw(st.text(ALPHABET.upper(), min_size=1, max_size=4)))
    return doc, b.build()


@st.composite
def concurrent_pair(draw):
    doc, a = draw(doc_and_op())
    _, b = draw(doc_and_op(doc))
    return doc, a, b


@given(concurrent_pair())
@settings(max_examples=500)
def test_transform_converges(case):
    doc, a, b = case
    a2, b2 = ot.transform(a, b)
    assert ot.apply(ot.apply(doc, a), b2) == ot.apply(ot.apply(doc, b), a2)


@given(concurrent_pair())
@settings(max_examples=300)
def test_transform_keeps_every_insert(case):
    """No edit is lost: text inserted by either side survives the other's concurrent deletes."""
    doc, a, b = case
    a2, b2 = ot.transform(a, b)
    final = ot.apply(ot.apply(doc, a), b2)
    upper = "".join(c for c in final if c.isupper())
    inserted_a = "".join(c for c in a if isinstance(c, str))
    inserted_b = "".join(c for c in b if isinstance(c, str))
    assert len(upper) == len(inserted_a) + len(inserted_b)


@given(st.data())
@settings(max_examples=300)
def test_compose_equals_applying_in_turn(data):
    doc, a = data.draw(doc_and_op())
    _, b = data.draw(doc_and_op(ot.apply(doc, a)))
    assert ot.apply(doc, ot.compose(a, b)) == ot.apply(ot.apply(doc, a), b)


@given(doc_and_op())
def test_wire_form_round_trips(case):
    doc, op = case
    assert ot.apply(doc, ot.from_wire(ot.wire(op), len(doc))) == ot.apply(doc, op)


@given(st.integers(0, 2**32), st.integers(2, 4), st.integers(5, 60))
@settings(max_examples=150, deadline=None)
def test_random_sessions_of_several_clients_converge(seed, n_clients, steps):
    """Clients edit, the server orders, messages interleave arbitrarily: every copy ends equal."""
    rng = random.Random(seed)
    server = Document()
    clients = [OTClient() for _ in range(n_clients)]
    to_server = [[] for _ in clients]
    to_client = [[] for _ in clients]
    tokens = []

    def server_takes(i):
        msg = to_server[i].pop(0)
        op = server.submit_wire(msg["version"], msg["op"])
        to_client[i].append({"type": "ack", "version": server.version})
        for j in range(n_clients):
            if j != i:
                to_client[j].append({"type": "edit", "version": server.version, "op": ot.wire(op)})

    def client_takes(i):
        reply = clients[i].receive(to_client[i].pop(0))
        if reply:
            to_server[i].append(reply)

    for step in range(steps):
        i = rng.randrange(n_clients)
        roll = rng.random()
        if roll < 0.4:
            c = clients[i]
            pos = rng.randint(0, len(c.content))
            delete = rng.randint(0, min(3, len(c.content) - pos)) if rng.random() < 0.3 else 0
            token = f"[{step}]"
            msg = c.edit(pos, delete, token)
            tokens.append((token, delete))
            if msg:
                to_server[i].append(msg)
        elif roll < 0.7 and to_server[i]:
            server_takes(i)
        elif to_client[i]:
            client_takes(i)
    while any(to_server) or any(to_client):
        for i in range(n_clients):
            while to_server[i]:
                server_takes(i)
            while to_client[i]:
                client_takes(i)
    assert all(c.content == server.content for c in clients)
    assert all(c.version == server.version for c in clients)


# -- against the server --------------------------------------------------------------------------

def test_concurrent_edits_over_websockets_converge_and_lose_nothing(lab):
    url = lab.ws_url + "/ws/document/essay?user_id={}"
    with connect(url.format("ann")) as a, connect(url.format("bob")) as b:
        state = {}
        for name, ws in (("ann", a), ("bob", b)):
            state[name] = OTClient()
            state[name].receive(recv_json(ws))
        assert recv_json(a) == {"type": "user_joined", "user_id": "bob"}
        # Both type at the same moment, on version 0, without seeing each other.
        a.send(json.dumps(state["ann"].edit(0, 0, "Hello ")))
        b.send(json.dumps(state["bob"].edit(0, 0, "world")))
        for name, ws in (("ann", a), ("bob", b)):
            for _ in range(2):
                reply = state[name].receive(recv_json(ws))
                assert reply is None
        doc = lab.services.documents["essay"]
        assert state["ann"].content == state["bob"].content == doc.content
        assert "Hello " in doc.content and "world" in doc.content and doc.version == 2


def test_last_writer_wins_form_and_bad_edits(lab):
    with connect(lab.ws_url + "/ws/document/notes?user_id=ann") as a:
        assert recv_json(a) == {"type": "init", "content": "", "version": 0}
        a.send(json.dumps({"type": "edit", "content": "v1"}))
        assert recv_json(a) == {"type": "ack", "version": 1}
        for bad, expected in [
            ({"type": "edit", "version": 5, "op": {"pos": 0, "insert": "x"}}, "unknown version 5"),
            ({"type": "edit", "version": 1, "op": {"pos": 3, "insert": "x"}}, "does not fit"),
            ({"type": "edit", "version": 1, "op": {"pos": 0, "delete": 9}}, "does not fit"),
            ({"type": "edit", "version": 1}, "needs version and op"),
            ({"type": "edit", "op": {"pos": -1}}, "greater than or equal to 0"),
        ]:
            a.send(json.dumps(bad))
            reply = recv_json(a)
            assert reply["type"] == "error" and expected in reply["detail"], (bad, reply)
        a.send(json.dumps({"type": "edit", "version": 1, "op": {"pos": 2, "insert": "!"}}))
        assert recv_json(a) == {"type": "ack", "version": 2}
    assert lab.services.documents["notes"].content == "v1!"


def test_document_needs_a_user_id(lab):
    from .helpers import closed_with
    with connect(lab.ws_url + "/ws/document/x") as ws:
        assert closed_with(ws) == (1008, "user_id required")
