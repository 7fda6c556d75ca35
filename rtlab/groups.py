"""The names of the groups connections join, written once: endpoints, brokers and the wire use these."""
from __future__ import annotations

BROADCAST = "broadcast"  # everyone on /ws/broadcast
ANNOUNCEMENTS = "announcements"  # the SSE announcement subscribers (a log, not a hub group)


def chat(room: str) -> str:
    """A chat room's connections (/ws/chat)."""
    return f"chat:{room}"


def room(room_id: str) -> str:
    """A plain room's connections (/ws/room)."""
    return f"room:{room_id}"


def document(doc_id: str) -> str:
    """A shared document's editors."""
    return f"document:{doc_id}"


def notifications(user: str) -> str:
    """A user's notification subscribers (WebSocket connections, and the name of the user's log)."""
    return f"notifications:{user}"
