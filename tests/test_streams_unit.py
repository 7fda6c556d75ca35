"""The pure pieces of recovery and of the bus, tested directly: no server, no socket, no Redis.

In the manner of httpx-sse's decoder tests: each rule is fed its inputs and its answer read back.
"""
from __future__ import annotations

import asyncio
import json

import pytest

from rtlab.broker.memory.presence import MemoryPresence
from rtlab.broker.redis import Receiver
from rtlab.broker.redis.bus import Bus
from rtlab.broker.redis.wire import Envelope, Kind, decode, encode
from rtlab.broker.stores import PoolLimits
from rtlab.channels import Channel
from rtlab.history import History, log_lost, make_id, newest_within, order_key, parse_id, recover
from rtlab.hub import Connection, Hub, Outgoing
from rtlab.settings import Settings
from rtlab.slow import SlowPolicy


# -- ids ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("position, key", [("17", (17, 0)), ("1700000000000-3", (1700000000000, 3))])
def test_an_id_is_made_and_read_in_one_place(position, key):
    assert parse_id(make_id("ab12cd34", position)) == ("ab12cd34", key)
    assert order_key(position) == key


@pytest.mark.parametrize("bad", [None, "", "nodot", ".5", "ep.x", "ep.1-y", "e" * 70 + ".1"])
def test_an_id_not_of_ours_is_none(bad):
    assert parse_id(bad) is None


# -- history.recover ---------------------------------------------------------------------------------------
def kept(n: int, epoch: str = "ep") -> list[dict]:
    return [{"type": "message", "message": str(i), "id": make_id(epoch, str(i))} for i in range(1, n + 1)]


def texts(recovery) -> list[str]:
    return [m["message"] for m in recovery.messages]


def test_recover_without_since_gives_the_last_messages():
    got = recover(kept(5), "ep", None, size=3, max_bytes=1 << 20)
    assert (texts(got), got.recovered) == (["3", "4", "5"], False)


def test_recover_from_a_kept_id_gives_exactly_what_followed_it():
    got = recover(kept(5), "ep", "ep.2", size=3, max_bytes=1 << 20)
    assert (texts(got), got.recovered) == (["3", "4", "5"], True)
    assert recover(kept(5), "ep", "ep.5", 3, 1 << 20) == type(got)([], True)  # up to date: nothing missed


@pytest.mark.parametrize("since", ["other.2", "ep.9", "ep.0", "garbage", "ep."])
def test_recover_from_an_unknown_id_is_not_a_recovery(since):
    got = recover(kept(5), "ep", since, size=2, max_bytes=1 << 20)
    assert (texts(got), got.recovered) == (["4", "5"], False)


def test_a_resume_that_does_not_fit_in_max_bytes_sends_the_newest_that_fit_and_says_so():
    messages = kept(5)
    one = len(json.dumps(messages[-1], separators=(",", ":"), ensure_ascii=False).encode()) + 1
    got = recover(messages, "ep", "ep.1", size=5, max_bytes=2 * one)
    assert (texts(got), got.recovered) == (["4", "5"], False)
    assert newest_within(messages, 0) == []


def test_the_memory_history_numbers_under_one_epoch_and_keeps_the_last():
    history = History(size=2, max_bytes=1 << 20)
    ids = [history.add("r", {"message": m})["id"] for m in "abc"]
    assert [parse_id(i)[1] for i in ids] == [(1, 0), (2, 0), (3, 0)]
    assert texts(history.recover("r", ids[1])) == ["c"]
    assert history.recover("r", ids[0]).recovered is False  # fell out of the history


# -- the history-lost rule, and Channel.replay ---------------------------------------------------------------
@pytest.mark.parametrize("last_id, oldest, latest, lost", [
    (5, 3, 5, False),  # up to date
    (2, 3, 5, False),  # just before the oldest kept: nothing lost
    (1, 3, 5, True),  # event 2 is gone
    (6, 3, 5, True),  # from the future: another run, or a log that started over
    (0, None, 0, False),  # a log never written: nothing to miss
    (0, None, 4, True),  # a log emptied (its events are gone)
    (4, None, 4, False),
])
def test_the_history_lost_rule(last_id, oldest, latest, lost):
    assert log_lost(last_id, oldest, latest) is lost


def test_channel_replay_follows_the_rule():
    channel = Channel("c", log_size=3)
    for i in range(5):
        channel.publish({"n": i})  # ids 1..5, the log keeps 3..5
    assert channel.replay(2) == ([ev for ev in channel.log], False)
    assert [ev.id for ev in channel.replay(3)[0]] == [4, 5]
    for last_id in (0, 1, 6, 99):
        assert channel.replay(last_id) == ([], True)
        assert log_lost(last_id, channel.log[0].id, channel.last_id)


def test_a_channel_takes_the_ids_a_broker_gives():
    channel = Channel("c")
    channel.publish({"n": 1}, id=41)
    channel.publish({"n": 2}, id=42)
    assert (channel.last_id, channel.replay(40)[1], [e.id for e in channel.replay(41)[0]]) == (42, False, [42])


# -- Connection.release: the history first, then live, nothing twice ----------------------------------------
class FakeSocket:
    """What a Connection writes to, when it has no fast path: ``send_text``."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))


def connection() -> tuple[Connection, FakeSocket]:
    ws = FakeSocket()
    return Connection(Hub(Settings()), ws, "chat", "ann"), ws


def keyed(n: int) -> Outgoing:
    return Outgoing({"n": n}, key=(n, 0))


async def drained(conn: Connection) -> None:
    await conn.flush(1.0)
    await asyncio.sleep(0)


async def test_release_sends_the_history_then_what_was_held_minus_what_it_holds():
    conn, ws = connection()
    conn.hold()
    for n in (2, 3, 4):  # live while the history was read; 2 and 3 are in the history too
        conn.send(keyed(n))
    conn.send({"type": "system"})  # not resumable: never dropped
    conn.release(after=(3, 0), first=[{"history": [1, 2, 3]}])
    await drained(conn)
    assert ws.sent == [{"history": [1, 2, 3]}, {"n": 4}, {"type": "system"}]


async def test_a_late_message_the_history_held_is_dropped_until_a_newer_one_came():
    conn, ws = connection()
    conn.hold()
    conn.release(after=(5, 0))
    conn.send(keyed(4))  # late: arrived after the history that holds it
    conn.send(keyed(6))  # newer: the floor lifts
    conn.send(keyed(1))  # a stream that started over (a Redis that lost its data) is not cut off
    await drained(conn)
    assert ws.sent == [{"n": 6}, {"n": 1}]


async def test_release_without_a_floor_sends_everything():
    conn, ws = connection()
    conn.hold()
    conn.send(keyed(1))
    conn.release(after=None, first=[{"history": []}])
    await drained(conn)
    assert ws.sent == [{"history": []}, {"n": 1}]


# -- the slow-consumer policy --------------------------------------------------------------------------------
def test_the_slow_consumer_policy_and_its_reasons():
    policy = SlowPolicy(limit_bytes=100, stall_timeout=5)
    assert (policy.over_limit(100), policy.over_limit(101)) == (None, "too slow: over 100 bytes waiting")
    assert (policy.stalled(None, 99.0), policy.stalled(10.0, 15.0)) == (None, None)
    assert policy.stalled(10.0, 15.5) == "no progress for 5 s"


# -- the wire: one encoder, one decoder ------------------------------------------------------------------
def test_every_kind_of_envelope_survives_the_wire():
    envelopes = [Envelope(Kind.GROUP, "room:r", '{"a":1}'),
                 Envelope(Kind.GROUP, "document:d", '{"b":"é\\n"}', id=7, node="n1", exclude=3),
                 Envelope(Kind.USER, "ann", "{}", endpoint="chat"),
                 Envelope(Kind.CONNECTION, "12", "{}"),
                 Envelope(Kind.CHAT, "chat:r", '{"m":1}', id="1700-0", epoch="ep"),
                 Envelope(Kind.NOTIFICATION, "ann", "{}", id=3),
                 Envelope(Kind.ANNOUNCEMENT, "announcements", "{}", id=4)]
    assert decode(encode(envelopes)) == envelopes
    assert encode(envelopes[:1]) == '[["g","room:r","{\\"a\\":1}"]]'  # empty fields left out


def test_a_record_as_a_lua_script_builds_it_is_read_too():
    # what the SAY script publishes: cjson.encode({{'m', group, text, position, epoch}})
    (env,) = decode('[["m","chat:r","{\\"message\\":\\"hi\\"}","1700-0","ep"]]')
    assert env == Envelope(Kind.CHAT, "chat:r", '{"message":"hi"}', id="1700-0", epoch="ep")


@pytest.mark.parametrize("bad", ['{"kind":"group"}', '[["zz","x","{}"]]', "[[]]", "[1]", "not json"])
def test_anything_else_is_refused(bad):
    with pytest.raises(ValueError):
        decode(bad)


# -- the receiver: each kind to the delivery handler -------------------------------------------------------
class FakeDelivery:
    def __init__(self, reach: int = 1) -> None:
        self.calls: list[tuple] = []
        self.reach = reach

    def _record(self, *call) -> int:
        self.calls.append(call)
        return self.reach

    def to_group(self, group, item, exclude=None):
        return self._record("group", group, item.text, item.key, exclude)

    def to_user(self, user, item, endpoint):
        return self._record("user", user, item.text, endpoint)

    def to_connection(self, conn_id, item):
        return self._record("connection", conn_id, item.text)

    def notification(self, user, payload, event_id):
        return self._record("notification", user, payload, event_id)

    def announcement(self, payload, event_id):
        return self._record("announcement", payload, event_id)


def test_the_receiver_hands_each_kind_to_the_delivery_handler():
    delivery = FakeDelivery()
    receive = Receiver("me", delivery)
    receive(Envelope(Kind.GROUP, "g", "{}", id=3, node="me", exclude=9))
    receive(Envelope(Kind.GROUP, "g", "{}", node="other", exclude=9))  # another node's connection 9
    receive(Envelope(Kind.CHAT, "chat:r", '{"message":"hi"}', id="5-1", epoch="ep"))
    receive(Envelope(Kind.NOTIFICATION, "ann", '{"message":"n"}', id=2))
    receive(Envelope(Kind.CONNECTION, "12", '{"type":"ack"}'))
    assert delivery.calls == [
        ("group", "g", "{}", (3, 0), 9),
        ("group", "g", "{}", None, None),
        ("group", "chat:r", '{"message":"hi","id":"ep.5-1"}', (5, 1), None),
        ("notification", "ann", {"message": "n"}, 2),
        ("connection", 12, '{"type":"ack"}'),
    ]


# -- the bus: batching, in order, and what happens when Redis is away ----------------------------------------
class FakePipeline:
    def __init__(self, log: list, fail: bool) -> None:
        self.log, self.fail, self.commands = log, fail, []

    def publish(self, channel, data):
        self.commands.append(("PUBLISH", channel, json.loads(data)))

    def eval(self, source, numkeys, *args):
        self.commands.append(("EVAL", *args))

    async def execute(self, raise_on_error=True):
        if self.fail:
            raise ConnectionError("Redis is away")
        self.log.append(self.commands)
        return [len(self.commands)] * len(self.commands)


class FakeRedis:
    def __init__(self, fail: bool = False) -> None:
        self.pipelines: list[list] = []
        self.fail = fail

    def pipeline(self, transaction=False):
        return FakePipeline(self.pipelines, self.fail)


def record(group: str, text: str) -> Envelope:
    return Envelope(Kind.GROUP, group, text)


async def test_what_one_turn_publishes_goes_in_one_pipeline_consecutive_records_of_a_channel_in_one_message():
    bus = Bus("me", handle=lambda env: 1)
    bus.redis = FakeRedis()
    for ch, text in [("a", "1"), ("a", "2"), ("b", "3"), ("a", "4")]:
        bus.publish(ch, record(ch, text))
    bus.say(["stream", "epoch"], [100, "new", "chat:r", "bus:r"], "m1", fallback=None)
    bus.say(["stream", "epoch"], [100, "new", "chat:r", "bus:r"], "m2", fallback=None)
    done = bus.publish("a", record("a", "5"), wait=True)
    assert await done is not None
    (pipeline,) = bus.redis.pipelines  # one round trip for all of it, in call order
    assert [(c[0], c[1]) for c in pipeline] == [("PUBLISH", "a"), ("PUBLISH", "b"), ("PUBLISH", "a"),
                                                ("EVAL", "stream"), ("PUBLISH", "a")]
    assert [[r[2] for r in c[2]] for c in pipeline if c[0] == "PUBLISH"] == [["1", "2"], ["3"], ["4"], ["5"]]
    assert pipeline[3][-2:] == ("m1", "m2")  # one script call for the room's two messages


async def test_what_cannot_reach_redis_is_delivered_here_in_order_and_a_waiter_is_told():
    bus = Bus("me", handle=lambda env: 1)
    bus.redis = FakeRedis(fail=True)
    here: list[str] = []
    for text in ("1", "2"):
        bus.publish("a", record("a", text), fallback=lambda text=text: here.append(text))
    bus.say(["s", "e"], [1, "x", "chat:r", "bus:r"], "m", fallback=lambda: here.append("m"))
    waiter = bus.publish("a", record("a", "3"), wait=True)
    with pytest.raises(ConnectionError):
        await waiter
    assert here == ["1", "2", "m"]


def test_the_bus_counts_what_it_received_and_what_reached_nobody():
    reached = iter([2, 0, 1])
    bus = Bus("me", handle=lambda env: next(reached))
    bus._received(encode([record("a", "1"), record("a", "2"), record("b", "3")]))
    bus._received("not a bus message")  # said in the log, not counted, not fatal
    assert (bus.received, bus.dropped) == (3, 1)


async def settle() -> None:
    """Let the loop run what is ready (a confirmation passes a shield, a gather and a wait_for)."""
    for _ in range(10):
        await asyncio.sleep(0)


class FakePubSub:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    async def subscribe(self, *channels):
        self.sent.append(("SUBSCRIBE", *channels))

    async def unsubscribe(self, *channels):
        self.sent.append(("UNSUBSCRIBE", *channels))


async def test_a_join_waits_for_the_confirmation_and_the_last_leave_unsubscribes():
    bus = Bus("me", handle=lambda env: 1)
    bus._pubsub = pubsub = FakePubSub()
    first = asyncio.ensure_future(bus.want(["g:a", "u:ann"]))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(bus.want(["g:a"]))  # a second member: no new SUBSCRIBE...
    await asyncio.sleep(0)
    assert pubsub.sent == [("SUBSCRIBE", "g:a", "u:ann")]
    await settle()
    assert not second.done()  # ...but it waits for the same confirmation
    bus._confirmed("g:a")
    await settle()
    assert second.done() and not first.done()  # (the first also waits for u:ann)
    bus._confirmed("u:ann")
    await asyncio.wait_for(first, 1)
    await bus.unwant(["g:a"])
    assert pubsub.sent[-1] == ("SUBSCRIBE", "g:a", "u:ann")  # one member left: still subscribed
    await bus.unwant(["g:a", "u:ann"])
    assert pubsub.sent[-1] == ("UNSUBSCRIBE", "g:a", "u:ann") and bus.interest == {}


async def test_resubscribing_after_a_leave_waits_for_its_own_confirmation():
    bus = Bus("me", handle=lambda env: 1)
    bus._pubsub = pubsub = FakePubSub()
    first = asyncio.ensure_future(bus.want(["g:a"]))
    await asyncio.sleep(0)
    await bus.unwant(["g:a"])  # left before Redis confirmed
    again = asyncio.ensure_future(bus.want(["g:a"]))
    await asyncio.sleep(0)
    assert pubsub.sent == [("SUBSCRIBE", "g:a"), ("UNSUBSCRIBE", "g:a"), ("SUBSCRIBE", "g:a")]
    bus._confirmed("g:a")  # the first SUBSCRIBE's confirmation: not the one the rejoin waits for
    await settle()
    assert first.done() and not again.done()
    bus._confirmed("g:a")
    await asyncio.wait_for(again, 1)


# -- presence in one process -----------------------------------------------------------------------------------
class FakeConn:
    _next = iter(range(1, 1000))

    def __init__(self, user, endpoint, groups) -> None:
        self.id, self.user, self.endpoint, self.groups = next(self._next), user, endpoint, set(groups)


async def test_memory_presence_counts_in_and_out_once():
    presence = MemoryPresence(PoolLimits())
    a, b = FakeConn("ann", "chat", ["chat:r"]), FakeConn("ann", "chat", ["chat:r"])
    for conn in (a, b):
        await presence.connected(conn)
        await presence.entered(conn, list(conn.groups))
    await presence.sse_opened("ann")
    assert (await presence.group_size("chat:r"), await presence.group_users("chat:r")) == (2, ["ann"])
    assert await presence.endpoints_of("ann") == {"chat": 2, "sse": 1}
    await presence.left(a)
    await presence.left(a)  # idempotent
    assert await presence.group_size("chat:r") == 1
    await presence.left(b)
    await presence.sse_closed("ann")
    assert (await presence.group_size("chat:r"), await presence.is_online("ann")) == (0, False)
    assert not presence.users and not presence.groups and not presence.sizes
