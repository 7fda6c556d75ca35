"""The broker's concerns, one small protocol each, and what a broker delivers to.

A broker is four parts and a lifecycle, as centrifuge splits the same job (its ``Broker``, its
``PresenceManager`` and the handler it delivers through):

* :class:`FanOut` — deliver to a group or a user on every process; a node takes the traffic of a
  group only while one of its own connections is in it (:meth:`FanOut.attach`);
* :class:`Presence` — who is connected and where, and the per-user connection pools;
* :class:`Streams` — the resumable streams: a chat room's history, the notification and
  announcement logs, and what a reconnecting client missed;
* :class:`DocumentStore` — the shared documents.

What arrives for this process's own clients goes to a :class:`Delivery`, given to the broker:
the broker never sees the hub's indexes or the app's state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..channels import Channel, Event, Subscription
    from ..history import Recovery
    from ..hub import Connection, Outgoing

SSE = "sse"  # the pseudo-endpoint under which SSE notification subscriptions count


class BrokerUnavailable(RuntimeError):
    """The broker could not be reached at start."""


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


class Delivery(Protocol):
    """Where a broker delivers what reaches this process: its own connections and SSE subscribers.

    Each method returns how many local receivers it reached (0: none here)."""

    def to_group(self, group: str, item: "Outgoing", exclude: int | None = None) -> int:
        """Every connection in the group (``exclude``: the id of one not to send to)."""

    def to_user(self, user: str, item: "Outgoing", endpoint: str) -> int:
        """Every connection of the user on that endpoint."""

    def to_connection(self, conn_id: int, item: "Outgoing") -> int:
        """One connection, by id."""

    def notification(self, user: str, payload: dict, event_id: int) -> int:
        """A logged notification: to the user's WebSocket notification connections and SSE subscribers."""

    def announcement(self, payload: dict, event_id: int) -> int:
        """A logged announcement: to every SSE announcement subscriber."""

class Lifecycle(Protocol):
    async def start(self) -> None:
        """Connect; raise :class:`BrokerUnavailable` when the broker can't be reached."""

    async def stop(self) -> None:
        """Disconnect."""

    def counts(self) -> dict[str, int]:
        """``bus_received``: messages this process took from the bus; ``bus_dropped``: those that
        reached none of its clients (0 and 0 with no bus)."""


class FanOut(Protocol):
    async def attach(self, conn: "Connection") -> None:
        """Take the traffic of ``conn.user`` and ``conn.groups`` on this process, confirmed before
        it returns: nothing sent to the connection once it is in the hub is missed."""

    async def detach(self, conn: "Connection") -> None:
        """Undo :meth:`attach`; the last connection of a group takes the group's traffic away."""

    async def publish(self, group: str, payload: Any, exclude: "Connection | None" = None) -> None:
        """Deliver to every member of a group on every process (``exclude``: not to that connection)."""

    async def send_to_user(self, user: str, payload: Any, endpoint: str) -> int:
        """Deliver to every connection of ``user`` on ``endpoint``; how many connections it reached."""


class Presence(Protocol):
    async def connected(self, conn: "Connection") -> None:
        """A connection of ``conn.user`` opened on ``conn.endpoint``: count it (for online/presence)."""

    async def entered(self, conn: "Connection", groups: list[str]) -> None:
        """The connection joined these groups: count its user in each."""

    async def left(self, conn: "Connection") -> None:
        """The connection is gone: uncount it from its user and every group. Idempotent."""

    async def group_size(self, group: str) -> int:
        """Connections in a group, over every process."""

    async def group_users(self, group: str) -> list[str]:
        """Distinct users in a group, sorted, over every process."""

    async def is_online(self, user: str) -> bool:
        """Whether the user has any connection or SSE subscription anywhere."""

    async def sse_opened(self, user: str | None) -> None:
        """An SSE subscription opened: to a user's notifications, or (``None``) to the announcements."""

    async def sse_closed(self, user: str | None) -> None:
        """Undo :meth:`sse_opened`."""

    async def endpoints_of(self, user: str) -> dict[str, int]:
        """The user's connections per endpoint (SSE notification subscriptions under :data:`SSE`), everywhere."""

    async def announcement_subscribers(self) -> int:
        """SSE subscriptions to the announcements, everywhere."""

    async def pool_acquire(self, key: str, limit: int) -> bool:
        """Check and reserve one of ``limit`` slots in one atomic step; False when all are taken."""

    async def pool_release(self, key: str) -> None:
        """Give back a slot taken by :meth:`pool_acquire`."""


class Streams(Protocol):
    async def say(self, room: str, message: dict) -> None:
        """Give a room message its ``id``, keep it in the room's bounded history and deliver it to
        the room, in one step: every process sees the room's messages in id order."""

    async def recover(self, room: str, since: str | None) -> "Recovery":
        """The room's history for a joining client (:func:`rtlab.history.recover`)."""

    async def notify(self, user: str, payload: dict) -> int:
        """Log a notification (it gets an ``id``) and deliver it to every WebSocket and SSE
        subscription of the user; how many it reached."""

    async def announce(self, payload: dict) -> int:
        """Log an announcement and deliver it to every SSE subscriber; how many it reached."""

    async def subscribe(self, channel: "Channel", last_id: int | None, user: str | None = None) -> Subscribed:
        """Register an SSE subscriber, and read what it missed after ``last_id`` from the log."""

    async def unsubscribe(self, channel: "Channel", sub: "Subscription", user: str | None = None) -> None:
        """Undo :meth:`subscribe`."""

    async def replay(self, channel: "Channel", last_id: int) -> tuple[list["Event"], bool]:
        """The events after ``last_id`` in the channel's log, and whether history was lost."""

    async def log_bounds(self, channel: "Channel") -> LogBounds:
        """The oldest and latest ids of a log, to tell a client what it can resume from."""


class DocumentStore(Protocol):
    async def state(self, doc_id: str) -> DocState:
        """A document's content and version."""

    async def edit(self, doc_id: str, conn: "Connection", base_version: int | None,
                   edit: dict | list | None, content: str | None) -> None:
        """Transform and apply an edit, send it to the other editors and ack the author, in version
        order on every process. Raises :class:`~rtlab.ot.OTError` when it can't be applied."""


@dataclass(slots=True)
class Broker:
    """One backend's parts. Endpoints talk to the part of their concern: ``broker.presence``..."""

    name: str
    lifecycle: Lifecycle
    fanout: FanOut
    presence: Presence
    streams: Streams
    documents: DocumentStore

    async def start(self) -> None:
        await self.lifecycle.start()

    async def stop(self) -> None:
        await self.lifecycle.stop()

    def counts(self) -> dict[str, int]:
        return self.lifecycle.counts()
