"""Chat rooms: members, bounded history, presence."""
from __future__ import annotations

import collections

from .hub import Hub


class ChatRooms:
    def __init__(self, hub: Hub, history_size: int) -> None:
        self.hub = hub
        self.history_size = history_size
        self.history: dict[str, collections.deque] = {}

    @staticmethod
    def group(room: str) -> str:
        return f"chat:{room}"

    def remember(self, room: str, message: dict) -> None:
        h = self.history.get(room)
        if h is None:
            h = self.history[room] = collections.deque(maxlen=self.history_size)
        h.append(message)

    def recent(self, room: str) -> list[dict]:
        return list(self.history.get(room, ()))
