"""The Redis wire format, named once: every key, every pub/sub channel, and the bus envelope.

A bus message is a JSON array of records, in publish order; a node publishes everything one
turn of its event loop produced for one channel as one message (:mod:`.bus`). A record is an
:class:`Envelope` as a JSON array (trailing empty fields left out), so that a Lua script can
build one with ``cjson.encode`` of a table, and Python reads every kind with one decoder.
"""
from __future__ import annotations

import json
from enum import StrEnum
from typing import NamedTuple

PREFIX = "rtlab"
NODES = f"{PREFIX}:nodes"  # sorted set: node -> last heartbeat (unix time)
ANNOUNCEMENT_SUBS = f"{PREFIX}:subs:announcements"  # hash: node -> SSE announcement subscriptions


# -- keys -----------------------------------------------------------------------------------------
def user_key(user: str) -> str:
    """Hash "node|endpoint" -> the user's connections there."""
    return f"{PREFIX}:user:{user}"


def presence_key(group: str) -> str:
    """Hash "node|user" -> the user's connections in the group there."""
    return f"{PREFIX}:presence:{group}"


def pool_key(slot: str) -> str:
    """Hash node -> slots taken there."""
    return f"{PREFIX}:pool:{slot}"


def seq_key(log: str) -> str:
    """The last id given out in an event log."""
    return f"{PREFIX}:seq:{log}"


def log_key(log: str) -> str:
    """Sorted set of an event log: the event's JSON, scored by its id."""
    return f"{PREFIX}:log:{log}"


def chat_key(room: str) -> str:
    """Stream of a room's history (field ``m``: the message's JSON, without its id)."""
    return f"{PREFIX}:chat:{room}"


def epoch_key(room: str) -> str:
    return f"{PREFIX}:chat:{room}:epoch"


def doc_key(doc_id: str) -> str:
    """Hash of a document: ``content`` and ``version``."""
    return f"{PREFIX}:doc:{doc_id}"


def doc_ops_key(doc_id: str) -> str:
    """List of a document's last operations (JSON), to transform edits made on older versions."""
    return f"{PREFIX}:docops:{doc_id}"


def node_field(node: str, name: str) -> str:
    """A per-node field of a count hash: a node restates its own after a Redis restart."""
    return f"{node}|{name}"


def split_field(field: str) -> tuple[str, str]:
    node, _, name = field.partition("|")
    return node, name


# -- pub/sub channels -------------------------------------------------------------------------------
def group_channel(group: str) -> str:
    """The traffic of a group (and of a log's subscribers: notifications, announcements)."""
    return f"{PREFIX}:bus:group:{group}"


def user_channel(user: str) -> str:
    """Messages to a user's connections (private messages)."""
    return f"{PREFIX}:bus:user:{user}"


def node_channel(node: str) -> str:
    """Messages to one connection of one node (a document edit's ack)."""
    return f"{PREFIX}:bus:node:{node}"


# -- the envelope -------------------------------------------------------------------------------------
class Kind(StrEnum):
    GROUP = "g"  # payload to a group's connections
    USER = "u"  # payload to a user's connections on an endpoint
    CONNECTION = "c"  # payload to one connection
    CHAT = "m"  # a room message: its id from ``epoch`` and ``position``
    NOTIFICATION = "n"  # a logged notification, ``id`` its log id
    ANNOUNCEMENT = "a"  # a logged announcement, ``id`` its log id


class Envelope(NamedTuple):
    """One record on the bus. ``payload`` is JSON text: what clients get, sent as is (a chat message
    gets its ``id`` added; a notification or announcement is the logged event's data).

    A named tuple: one is built per message on each side of the bus, so it has to be cheap."""

    kind: Kind
    target: str  # the group, the user, or the connection id
    payload: str
    id: int | str | None = None  # an order key: a log id, a document version, a stream position
    epoch: str | None = None  # CHAT: the room's epoch
    endpoint: str | None = None  # USER: which of the user's connections
    node: str | None = None  # GROUP with ``exclude``, CONNECTION: the node it concerns
    exclude: int | None = None  # GROUP: a connection of ``node`` not to deliver to

    def record(self) -> list:
        """The record as it goes on the wire: a JSON array, trailing empty fields left out."""
        fields = list(self)
        while fields[-1] is None:
            fields.pop()
        return fields


_KINDS = {kind.value: kind for kind in Kind}


def encode(envelopes: list[Envelope]) -> str:
    """One bus message of several records."""
    return json.dumps([e.record() for e in envelopes], separators=(",", ":"), ensure_ascii=False)


def decode(data: str) -> list[Envelope]:
    """The records of one bus message; raises ValueError for anything else."""
    try:
        records = json.loads(data)
        return [Envelope(_KINDS[r[0]], *r[1:]) for r in records]
    except (TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"not a bus message: {exc!r}") from None
