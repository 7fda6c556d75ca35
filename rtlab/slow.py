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
    """The limits, and the reason each one gives. The hot paths (once per message per receiver)
    compare with ``limit_bytes`` and ``stall_timeout`` themselves and take the reason from here."""

    limit_bytes: int
    stall_timeout: float

    @property
    def too_slow(self) -> str:
        """Why a receiver with more than ``limit_bytes`` waiting was dropped."""
        return f"too slow: over {self.limit_bytes} bytes waiting"

    @property
    def no_progress(self) -> str:
        """Why a receiver whose queue made no progress for ``stall_timeout`` seconds was dropped."""
        return f"no progress for {self.stall_timeout:g} s"

    def over_limit(self, waiting: int) -> str | None:
        """The reason to drop a receiver with ``waiting`` bytes (characters) queued, or None."""
        return self.too_slow if waiting > self.limit_bytes else None

    def stalled(self, busy_since: float | None, now: float) -> str | None:
        """The reason to drop a receiver whose queue has waited since ``busy_since``, or None."""
        return self.no_progress if busy_since is not None and now - busy_since > self.stall_timeout else None
