"""Notifications: one service for WebSocket and SSE subscribers alike.

``POST /notify/{user}`` reaches *every* connection of the user (all tabs, all devices), on
``/ws/notifications/{user}`` and ``/sse/notifications/{user}``, and counts them all.
"""
from __future__ import annotations

from collections import OrderedDict

from . import groups
from .channels import Channel

ENDPOINT = "notifications"
group_of = groups.notifications  # the hub group of a user's WebSocket notification connections (and its log)


class Notifier:
    """Notifications for WebSocket and SSE subscribers, with a resumable log per user.

    The per-user logs are kept for the ``max_users`` most recently notified or subscribed
    users; older logs without subscribers are forgotten (a resume from one gets
    ``history_lost``), so that notifying many distinct ids cannot grow memory without bound.
    """

    def __init__(self, log_size: int, max_users: int = 10_000, limit_bytes: int = 1 << 20,
                 stall_timeout: float = 5.0) -> None:
        self.log_size = log_size
        self.limit_bytes, self.stall_timeout = limit_bytes, stall_timeout  # each subscriber's (see channels)
        self.max_users = max_users
        self.channels: OrderedDict[str, Channel] = OrderedDict()

    def channel(self, user: str) -> Channel:
        """The user's SSE channel (its log lets a reconnecting client catch up)."""
        ch = self.channels.get(user)
        if ch is None:
            ch = self.channels[user] = Channel(groups.notifications(user), self.log_size, self.limit_bytes,
                                                  self.stall_timeout)
            self._evict()
        else:
            self.channels.move_to_end(user)
        return ch

    def _evict(self) -> None:
        if len(self.channels) <= self.max_users:
            return
        for user in list(self.channels):
            if len(self.channels) <= self.max_users:
                return
            if not self.channels[user].subscribers:
                del self.channels[user]

    def sse_subscribers(self, user: str) -> int:
        ch = self.channels.get(user)
        return len(ch.subscribers) if ch else 0
