"""What a process keeps for itself, whichever broker it runs: its pool slots and (in memory) documents."""
from __future__ import annotations

from ..documents import Document


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

    def take(self, key: str) -> None:
        """Count a slot reserved elsewhere (in Redis) as this process's."""
        self.taken[key] = self.taken.get(key, 0) + 1

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
