"""The Redis broker: any number of processes sharing one ``redis-server``.

Pub/sub carries the fan-out, one channel per group and per user, each node subscribed only to
those its own clients need (:mod:`.bus`); hashes hold the presence and the counts, per node
(:mod:`.presence`); a stream per room holds the chat history and a sorted set per log the SSE
event logs (:mod:`.streams`); a hash and a list per document hold the shared documents
(:mod:`.documents`). Every key, channel and record is named in :mod:`.wire`.

Each part keeps a memory part for this process's own counts and falls back to it, for this
process only, while Redis is unreachable.
"""
from __future__ import annotations

import json

from ...history import make_id, order_key
from ...hub import Outgoing
from ..base import Broker, Delivery
from ..memory.presence import MemoryPresence
from ..memory.streams import MemoryStreams
from .bus import Bus
from .documents import RedisDocuments
from .fanout import RedisFanOut
from .link import Link
from .presence import RedisPresence
from .streams import RedisStreams
from .wire import Envelope, Kind


class Receiver:
    """What arrives on the bus, by kind, handed to the delivery handler."""

    def __init__(self, node: str, delivery: Delivery) -> None:
        self.node, self.delivery = node, delivery
        self.by_kind = {Kind.GROUP: self.group, Kind.USER: self.user, Kind.CONNECTION: self.connection,
                        Kind.CHAT: self.chat, Kind.NOTIFICATION: self.notification,
                        Kind.ANNOUNCEMENT: self.announcement}

    def __call__(self, env: Envelope) -> int:
        return self.by_kind[env.kind](env)

    def group(self, env: Envelope) -> int:
        key = None if env.id is None else (int(env.id), 0)
        exclude = env.exclude if env.node == self.node else None
        return self.delivery.to_group(env.target, Outgoing(env.payload, key=key), exclude)

    def user(self, env: Envelope) -> int:
        return self.delivery.to_user(env.target, Outgoing(env.payload), env.endpoint)

    def connection(self, env: Envelope) -> int:
        return self.delivery.to_connection(int(env.target), Outgoing(env.payload))

    def chat(self, env: Envelope) -> int:
        message = {**json.loads(env.payload), "id": make_id(env.epoch, env.id)}
        return self.delivery.to_group(env.target, Outgoing(message, key=order_key(env.id)))

    def notification(self, env: Envelope) -> int:
        return self.delivery.notification(env.target, json.loads(env.payload), int(env.id))

    def announcement(self, env: Envelope) -> int:
        return self.delivery.announcement(json.loads(env.payload), int(env.id))


def redis_broker(url: str, settings, delivery: Delivery, history, notifier, announcements, pools) -> Broker:
    """The parts, wired: one bus, one link, this process's memory parts to fall back to."""
    node = Link.new_node()
    bus = Bus(node, Receiver(node, delivery))
    link = Link(url, bus)
    here = MemoryPresence(pools)
    local = MemoryStreams(delivery, here, history, notifier, announcements)
    presence = RedisPresence(link, here)
    bus.on_reconnect.append(presence.restate)
    return Broker("redis", link, RedisFanOut(bus, presence, delivery), presence,
                  RedisStreams(link, bus, presence, local, settings), RedisDocuments(link))


__all__ = ["Bus", "Receiver", "RedisDocuments", "RedisFanOut", "RedisPresence", "RedisStreams", "redis_broker"]
