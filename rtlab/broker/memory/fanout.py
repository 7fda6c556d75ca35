"""Fan-out in one process: straight to the delivery handler."""
from __future__ import annotations

from typing import Any

from ...hub import Connection, Outgoing
from ..base import Delivery


class MemoryFanOut:
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    async def attach(self, conn: Connection) -> None:
        pass  # every group's traffic is here already

    async def detach(self, conn: Connection) -> None:
        pass

    async def publish(self, group: str, payload: Any, exclude: Connection | None = None) -> None:
        self.delivery.to_group(group, Outgoing(payload), exclude.id if exclude is not None else None)

    async def send_to_user(self, user: str, payload: Any, endpoint: str) -> int:
        return self.delivery.to_user(user, Outgoing(payload), endpoint)
