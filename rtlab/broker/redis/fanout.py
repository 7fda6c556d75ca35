"""Fan-out across processes: by interest (:meth:`RedisFanOut.attach`), batched (:mod:`.bus`)."""
from __future__ import annotations

from typing import Any

from ...hub import Connection, Outgoing
from ..base import Delivery, Presence
from .bus import Bus
from .wire import Envelope, Kind, group_channel, user_channel


def channels_of(conn: Connection) -> list[str]:
    """The bus channels a connection needs: its user's and its groups'."""
    channels = [group_channel(g) for g in conn.groups]
    if conn.user is not None:
        channels.append(user_channel(conn.user))
    return channels


class RedisFanOut:
    def __init__(self, bus: Bus, presence: Presence, delivery: Delivery) -> None:
        self.bus, self.presence, self.delivery = bus, presence, delivery

    async def attach(self, conn: Connection) -> None:
        await self.bus.want(channels_of(conn))

    async def detach(self, conn: Connection) -> None:
        await self.bus.unwant(channels_of(conn))

    async def publish(self, group: str, payload: Any, exclude: Connection | None = None) -> None:
        item = Outgoing(payload)
        exclude_id = exclude.id if exclude is not None else None
        envelope = Envelope(Kind.GROUP, group, item.text, node=self.bus.node if exclude is not None else None,
                            exclude=exclude_id)
        self.bus.publish(group_channel(group), envelope,
                         fallback=lambda: self.delivery.to_group(group, item, exclude_id))

    async def send_to_user(self, user: str, payload: Any, endpoint: str) -> int:
        count = (await self.presence.endpoints_of(user)).get(endpoint, 0)
        item = Outgoing(payload)
        try:
            await self.bus.publish(user_channel(user), Envelope(Kind.USER, user, item.text, endpoint=endpoint),
                                   wait=True)
        except Exception:
            return self.delivery.to_user(user, item, endpoint)
        return count
