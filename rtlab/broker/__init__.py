"""Brokers: what must be shared once the lab runs as more than one process.

One process holds only its own sockets (the :class:`~rtlab.hub.Hub`) and its own SSE
subscribers (:class:`~rtlab.channels.Channel`). Every fan-out (a room's messages, a private
message, a notification, an announcement) and every shared fact (who is in a room, who is
online, how many connections a user has, a room's history, the event logs, the documents)
goes through a broker, so the same endpoint code serves one process or many. A broker is a
part per concern (:mod:`rtlab.broker.base`), and delivers to the :class:`~.base.Delivery` it
is given, never to the app's state:

* :mod:`rtlab.broker.memory` — one process; nothing to run. The default.
* :mod:`rtlab.broker.redis` — any number of processes sharing a ``redis-server``. Each node
  takes only the traffic of the groups its own clients are in, and falls back to its memory
  parts while Redis is unreachable.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .base import (
    SSE,
    Broker,
    BrokerUnavailable,
    Delivery,
    DocState,
    DocumentStore,
    FanOut,
    Lifecycle,
    LogBounds,
    Presence,
    Streams,
    Subscribed,
)

if TYPE_CHECKING:
    from ..channels import Channel
    from ..history import History
    from ..notify import Notifier
    from ..settings import Settings
    from .stores import Documents, PoolLimits


def make_broker(settings: "Settings", delivery: Delivery, history: "History", notifier: "Notifier",
                announcements: "Channel", documents: "Documents", pools: "PoolLimits") -> Broker:
    """The broker ``settings.broker`` names, delivering to ``delivery``; the stores are this process's."""
    if settings.broker == "memory":
        from .memory import memory_broker

        return memory_broker(delivery, history, notifier, announcements, documents, pools)
    from .redis import redis_broker

    return redis_broker(settings.broker, settings, delivery, history, notifier, announcements, pools)


__all__ = ["SSE", "Broker", "BrokerUnavailable", "Delivery", "DocState", "DocumentStore", "FanOut", "Lifecycle",
           "LogBounds", "Presence", "Streams", "Subscribed", "make_broker"]
