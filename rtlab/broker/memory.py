"""The memory broker: one process, where the hub, the channels and the local stores are the whole truth."""
from __future__ import annotations

from typing import Any

from ..channels import Channel, Event, Subscription
from ..documents import Document
from ..history import order_key, room_group
from ..hub import Connection, Outgoing
from ..notify import group_of
from . import DocState, Local, LogBounds, Recovery, Subscribed


class PoolLimits:
    """Slots taken per key (``endpoint:user``) in this process."""

    def __init__(self) -> None:
        self.taken: dict[str, int] = {}

    def acquire(self, key: str, limit: int) -> bool:
        # No await between the check and the increment: simultaneous connects can't both pass.
        if self.taken.get(key, 0) >= limit:
            return False
        self.taken[key] = self.taken.get(key, 0) + 1
        return True

    def release(self, key: str) -> None:
        left = self.taken.get(key, 0) - 1
        if left > 0:
            self.taken[key] = left
        else:
            self.taken.pop(key, None)


class Documents(dict[str, Document]):
    """The shared documents of this process, by id; created empty on first use."""

    def __missing__(self, doc_id: str) -> Document:
        doc = self[doc_id] = Document()
        return doc


def notification_for_websocket(payload: dict, event_id: int) -> Outgoing:
    """A notification as WebSocket clients get it: with the id its SSE twin shows."""
    return Outgoing({**payload, "id": str(event_id)}, key=(event_id, 0))


class MemoryBroker:
    """Every method works on this process's hub, channels and stores, with no await inside."""

    name = "memory"

    def __init__(self, local: Local) -> None:
        self.local = local

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    # -- membership ------------------------------------------------------------------------
    async def connected(self, conn: Connection) -> None:
        pass

    async def entered(self, conn: Connection, groups: list[str]) -> None:
        pass

    async def left(self, conn: Connection) -> None:
        pass

    async def group_size(self, group: str) -> int:
        return len(self.local.hub.groups.get(group, ()))

    async def group_users(self, group: str) -> list[str]:
        return self.local.hub.users_in(group)

    async def is_online(self, user: str) -> bool:
        return self.local.hub.is_online(user) or self.local.notifier.sse_subscribers(user) > 0

    # -- limits -----------------------------------------------------------------------------
    async def pool_acquire(self, key: str, limit: int) -> bool:
        return self.local.pools.acquire(key, limit)

    async def pool_release(self, key: str) -> None:
        self.local.pools.release(key)

    # -- fan-out ---------------------------------------------------------------------------
    async def publish(self, group: str, payload: Any, exclude: Connection | None = None) -> None:
        self.local.hub.publish(group, payload, exclude=exclude)

    async def send_to_user(self, user: str, payload: Any, endpoint: str) -> int:
        return self.local.hub.send_to_user(user, payload, endpoint=endpoint)

    async def notify(self, user: str, payload: dict) -> int:
        channel = self.local.notifier.channel(user)
        to_sse = channel.publish(payload)
        return self.local.hub.publish(group_of(user), notification_for_websocket(payload, channel.last_id)) + to_sse

    async def announce(self, payload: dict) -> int:
        return self.local.announcements.publish(payload)

    # -- chat history -------------------------------------------------------------------------
    async def say(self, room: str, message: dict) -> None:
        message = self.local.history.add(room, message)
        position = message["id"].partition(".")[2]
        self.local.hub.publish(room_group(room), Outgoing(message, key=order_key(position)))

    async def recover(self, room: str, since: str | None) -> Recovery:
        return self.local.history.recover(room, since)

    # -- event logs ------------------------------------------------------------------------------
    async def subscribe(self, channel: Channel, last_id: int | None, user: str | None = None) -> Subscribed:
        sub, replay, lost = channel.subscribe(last_id)
        return Subscribed(sub, replay, lost)

    async def unsubscribe(self, channel: Channel, sub: Subscription, user: str | None = None) -> None:
        sub.close()

    async def replay(self, channel: Channel, last_id: int) -> tuple[list[Event], bool]:
        return channel.replay(last_id)

    async def log_bounds(self, channel: Channel) -> LogBounds:
        return LogBounds(channel.log[0].id if channel.log else None, channel.last_id)

    # -- shared documents -----------------------------------------------------------------------
    async def doc_state(self, doc_id: str) -> DocState:
        doc = self.local.documents[doc_id]
        return DocState(doc.content, doc.version)

    async def doc_edit(self, doc_id: str, conn: Connection, base_version: int | None, edit: dict | list | None,
                       content: str | None) -> None:
        doc = self.local.documents[doc_id]
        op = doc.apply_edit(base_version, edit, content)
        self.local.hub.publish(f"document:{doc_id}", Outgoing(doc.edit_message(op, conn.user, content is not None),
                                                              key=(doc.version, 0)), exclude=conn)
        conn.send({"type": "ack", "version": doc.version})
