"""The slow-consumer policy, written once for WebSocket outboxes (:mod:`rtlab.hub`) and SSE
backlogs (:mod:`rtlab.channels`): when a receiver that falls behind is dropped, and the reason given.

A receiver is dropped when more than ``limit_bytes`` wait for it, or when what waits for it has
made no progress for ``stall_timeout`` seconds. Dropping never waits for the receiver: the others
of the same fan-out go on at once.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SlowPolicy:
    limit_bytes: int
    stall_timeout: float

    def over_limit(self, waiting: int) -> str | None:
        """The reason to drop a receiver with ``waiting`` bytes (characters) queued, or None."""
        if waiting > self.limit_bytes:
            return f"too slow: over {self.limit_bytes} bytes waiting"
        return None

    def stalled(self, busy_since: float | None, now: float) -> str | None:
        """The reason to drop a receiver whose queue has waited since ``busy_since``, or None."""
        if busy_since is not None and now - busy_since > self.stall_timeout:
            return f"no progress for {self.stall_timeout:g} s"
        return None
