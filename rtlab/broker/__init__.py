"""Brokers: what must be shared once the lab runs as more than one process.

One process holds only its own sockets (the :class:`~rtlab.hub.Hub`) and its own SSE
subscribers (:class:`~rtlab.channels.Channel`). Every fan-out (a room's messages, a private
message, a notification, an announcement) and every shared fact (who is in a room, who is
online, how many connections a user has, a room's history, the event logs, the documents)
goes through a broker, so the same endpoint code serves one process or many:

* :class:`~rtlab.broker.memory.MemoryBroker` — one process; nothing to run. The default.
* :class:`~rtlab.broker.redis.RedisBroker` — any number of processes sharing a ``redis-server``.
  It *has* a memory broker for what stays local, and falls back to it while Redis is unreachable.

A broker is given what it delivers to (:class:`Local`), never the app's whole state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..channels import Channel, Event, Subscription
    from ..history import History
    from ..hub import Connection, Hub
    from ..notify import Notifier
    from ..settings import Settings
    from .memory import Documents, PoolLimits

SSE = "sse"  # the pseudo-endpoint under which SSE notification subscriptions count


class BrokerUnavailable(RuntimeError):
    """The broker could not be reached at start."""


@dataclass(frozen=True, slots=True)
class Local:
    """What a broker delivers to, and the stores it keeps in this process."""

    settings: "Settings"
    hub: "Hub"
    notifier: "Notifier"
    announcements: "Channel"
    history: "History"
    documents: "Documents"
    pools: "PoolLimits"


@dataclass(frozen=True, slots=True)
class Subscribed:
    """An SSE (or WebSocket) subscription to an event log, and what a reconnecting client missed."""

    sub: "Subscription"
    replay: list["Event"]
    lost: bool  # the id asked for is unknown or older than the log
    upto: int = 0  # live events with ids up to this one were replayed already: skip them


@dataclass(frozen=True, slots=True)
class LogBounds:
    oldest: int | None  # the oldest id still in the log (None: empty)
    latest: int  # the latest id given out


@dataclass(frozen=True, slots=True)
class DocState:
    content: str
    version: int


@dataclass(frozen=True, slots=True)
class Recovery:
    """A chat room's history for a (re)joining client: what it missed, or the last messages."""

    messages: list[dict]
    recovered: bool  # True: exactly the messages after the client's ``since``


class Broker(Protocol):
    """The interface every endpoint talks to. Each method is a coroutine unless noted."""

    name: str

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and subscribe; raise :class:`BrokerUnavailable` when the broker can't be reached."""

    async def stop(self) -> None:
        """Unsubscribe and disconnect."""

    # -- membership: who is connected, and where -------------------------------------------------
    async def connected(self, conn: "Connection") -> None:
        """A connection of ``conn.user`` opened on ``conn.endpoint``: count it (for online/presence)."""

    async def entered(self, conn: "Connection", groups: list[str]) -> None:
        """The connection joined these groups: count its user in each (presence)."""

    async def left(self, conn: "Connection") -> None:
        """The connection is gone: uncount it from its user and every group. Idempotent."""

    async def group_size(self, group: str) -> int:
        """Connections in a group, over every process."""

    async def group_users(self, group: str) -> list[str]:
        """Distinct users in a group, sorted, over every process."""

    async def is_online(self, user: str) -> bool:
        """Whether the user has any connection or SSE subscription anywhere."""

    # -- limits ---------------------------------------------------------------------------------
    async def pool_acquire(self, key: str, limit: int) -> bool:
        """Check and reserve one of ``limit`` slots in one atomic step; False when all are taken."""

    async def pool_release(self, key: str) -> None:
        """Give back a slot taken by :meth:`pool_acquire`."""

    # -- fan-out ----------------------------------------------------------------------------------
    async def publish(self, group: str, payload: Any, exclude: "Connection | None" = None) -> None:
        """Deliver to every member of a group on every process (``exclude``: not to that connection)."""

    async def send_to_user(self, user: str, payload: Any, endpoint: str) -> int:
        """Deliver to every connection of ``user`` on ``endpoint``; how many connections it reached."""

    async def notify(self, user: str, payload: dict) -> int:
        """Log a notification (it gets an ``id``) and deliver it to every WebSocket and SSE
        subscription of the user; how many it reached."""

    async def announce(self, payload: dict) -> int:
        """Log an announcement and deliver it to every SSE subscriber; how many it reached."""

    # -- chat history (resumable) -----------------------------------------------------------------
    async def say(self, room: str, message: dict) -> None:
        """Give a room message its ``id``, keep it in the room's bounded history and deliver it to
        the room, in one step: every process sees the room's messages in id order."""

    async def recover(self, room: str, since: str | None) -> Recovery:
        """The room's history for a joining client: the messages after ``since`` if it is still kept
        (``recovered``), else the last ``history_size`` messages."""

    # -- event logs (SSE, and WebSocket notifications) ----------------------------------------------
    async def subscribe(self, channel: "Channel", last_id: int | None, user: str | None = None) -> Subscribed:
        """Register an SSE subscriber, and read what it missed after ``last_id`` from the log."""

    async def unsubscribe(self, channel: "Channel", sub: "Subscription", user: str | None = None) -> None:
        """Undo :meth:`subscribe`."""

    async def replay(self, channel: "Channel", last_id: int) -> tuple[list["Event"], bool]:
        """The events after ``last_id`` in the channel's log, and whether history was lost."""

    async def log_bounds(self, channel: "Channel") -> LogBounds:
        """The oldest and latest ids of a log, to tell a client what it can resume from."""

    # -- shared documents ---------------------------------------------------------------------------
    async def doc_state(self, doc_id: str) -> DocState:
        """A document's content and version."""

    async def doc_edit(self, doc_id: str, conn: "Connection", base_version: int | None,
                       edit: dict | list | None, content: str | None) -> None:
        """Transform and apply an edit, send it to the other editors and ack the author, in version
        order on every process. Raises :class:`~rtlab.ot.OTError` when it can't be applied."""


def make_broker(local: Local) -> Broker:
    from .memory import MemoryBroker

    if local.settings.broker == "memory":
        return MemoryBroker(local)
    from .redis import RedisBroker

    return RedisBroker(local, local.settings.broker)


__all__ = ["SSE", "Broker", "BrokerUnavailable", "DocState", "Local", "LogBounds", "Recovery", "Subscribed",
           "make_broker"]
