"""Notifications: one service for WebSocket and SSE subscribers alike.

``POST /notify/{user}`` reaches *every* connection of the user (all tabs, all devices), on
``/ws/notifications/{user}`` and ``/sse/notifications/{user}``, and counts them all.
"""
from __future__ import annotations

from datetime import datetime, timezone

from .channels import Channel
from .hub import Hub, Outgoing

ENDPOINT = "notifications"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Notifier:
    def __init__(self, hub: Hub, log_size: int) -> None:
        self.hub = hub
        self.log_size = log_size
        self.channels: dict[str, Channel] = {}

    def channel(self, user: str) -> Channel:
        """The user's SSE channel (its log lets a reconnecting client catch up)."""
        ch = self.channels.get(user)
        if ch is None:
            ch = self.channels[user] = Channel(f"notifications:{user}", self.log_size)
        return ch

    def notify(self, user: str, message: str) -> int:
        payload = {"type": "notification", "message": message, "timestamp": utc_now()}
        delivered = self.hub.publish(f"{ENDPOINT}:{user}", Outgoing(payload))
        delivered += self.channel(user).publish(payload)
        return delivered

    def sse_subscribers(self, user: str) -> int:
        ch = self.channels.get(user)
        return len(ch.subscribers) if ch else 0
