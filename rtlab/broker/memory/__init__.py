"""The memory broker: one process, where this process's counts, logs and stores are the whole truth.

Each part is in its own module; :func:`memory_broker` puts them together.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Broker, Delivery
from .documents import MemoryDocuments
from .fanout import MemoryFanOut
from .presence import MemoryPresence
from .streams import MemoryStreams

if TYPE_CHECKING:
    from ...channels import Channel
    from ...history import History
    from ...notify import Notifier
    from ..stores import Documents, PoolLimits


class _Nothing:
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def counts(self) -> dict[str, int]:
        return {"bus_received": 0, "bus_dropped": 0}


def memory_broker(delivery: Delivery, history: "History", notifier: "Notifier", announcements: "Channel",
                  documents: "Documents", pools: "PoolLimits") -> Broker:
    presence = MemoryPresence(pools)
    streams = MemoryStreams(delivery, presence, history, notifier, announcements)
    return Broker("memory", _Nothing(), MemoryFanOut(delivery), presence, streams,
                  MemoryDocuments(delivery, documents))


__all__ = ["MemoryDocuments", "MemoryFanOut", "MemoryPresence", "MemoryStreams", "memory_broker"]
