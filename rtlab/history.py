"""Chat history that a reconnecting client can resume from, with the ordering rules both brokers share.

WebSocket has no ``Last-Event-ID``. rtlab adds the equivalent in the manner of Centrifugo's
offset-and-epoch recovery: every room message carries an ``id`` made of the room's **epoch**
and a **position**. The position increases within the room (a counter in one process, a Redis
stream id across processes); the epoch changes whenever the history itself starts over (a new
process for the memory broker, a Redis that lost its data), so an id from before is *unknown*
rather than silently matched against different messages.

A client that joins with ``since=ID`` gets exactly the messages after ID if ID is still kept
(``recovered: true``), else the last messages (``recovered: false``). A history is also bounded in
bytes (``history_max_bytes``): a room of big messages sends the newest that fit, so that joining
never needs a frame bigger than a default client accepts; a resume whose missed messages do not fit
gets the newest that do, with ``recovered: false``. Between reading the history
and receiving live messages there must be no gap and no repeat: the connection is *held*
(``Connection.hold()``: live messages are queued, not sent) from before the history is read until
the history is sent, then released with every held message at or before the history's last id
dropped (``Connection.release()``), and any that arrives later too: across processes the history
and the live messages come over two Redis connections, so one the history holds can arrive after
it. Both brokers use :func:`recover` and that hold.
"""
from __future__ import annotations

import collections
import secrets
from dataclasses import dataclass

from . import groups
from .wsio import dumps

Key = tuple[int, int]

room_group = groups.chat  # the hub group of a chat room's connections


@dataclass(frozen=True, slots=True)
class Recovery:
    """A chat room's history for a (re)joining client: what it missed, or the last messages."""

    messages: list[dict]
    recovered: bool  # True: exactly the messages after the client's ``since``


def new_epoch() -> str:
    return secrets.token_hex(4)


def make_id(epoch: str, position: str) -> str:
    """A room message's id, as clients see it: the one place ids are built (:func:`parse_id` reads them)."""
    return f"{epoch}.{position}"


def order_key(position: str) -> Key:
    """``"17"`` → (17, 0); a Redis stream id ``"1700000000000-3"`` → (1700000000000, 3)."""
    ms, _, seq = position.partition("-")
    return int(ms), int(seq or 0)


def parse_id(message_id: str | None) -> tuple[str, Key] | None:
    """(epoch, order key) of an id, or None when it is not one of ours."""
    if not message_id or len(message_id) > 64:
        return None
    epoch, dot, position = message_id.partition(".")
    try:
        return (epoch, order_key(position)) if dot and epoch else None
    except ValueError:
        return None


def key_of(message: dict) -> Key | None:
    parsed = parse_id(message.get("id"))
    return parsed[1] if parsed else None


def newest_within(messages: list[dict], max_bytes: int) -> list[dict]:
    """The newest of ``messages`` (oldest first) whose JSON, as sent, fits in ``max_bytes``."""
    total = 0
    for i in range(len(messages) - 1, -1, -1):
        total += len(dumps(messages[i]).encode()) + 1  # and its comma
        if total > max_bytes:
            return messages[i + 1:]
    return messages


def recover(kept: list[dict], epoch: str | None, since: str | None, size: int, max_bytes: int) -> Recovery:
    """What a client joining with ``since`` gets, from the messages ``kept`` (oldest first): at
    most ``size`` messages and ``max_bytes`` of them; a resume that does not fit is not one."""
    parsed = parse_id(since)
    if parsed is not None and parsed[0] == epoch:
        for i, message in enumerate(kept):
            if key_of(message) == parsed[1]:
                missed = kept[i + 1:]
                fits = newest_within(missed, max_bytes)
                return Recovery(fits, len(fits) == len(missed))
    return Recovery(newest_within(kept[-size:], max_bytes), False)


def log_lost(last_id: int, oldest: int | None, latest: int) -> bool:
    """The history-lost rule of every event log (SSE ``Last-Event-ID``, WebSocket ``since``), for
    both brokers: an id is lost when it is from the future (another server run, or a log that
    started over), or older than the log's oldest kept event minus one (what followed it is gone).
    ``oldest`` is None for an empty log, where only the latest id given out can be resumed from."""
    if last_id > latest:
        return True
    if oldest is None:
        return last_id < latest
    return last_id < oldest - 1


class History:
    """Each room's last ``size`` messages in this process, numbered 1, 2, 3... under one epoch; a
    history sent holds at most ``max_bytes`` of them (:func:`recover`)."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.epoch = new_epoch()
        self.rooms: dict[str, collections.deque[dict]] = {}
        self.positions: dict[str, int] = {}

    def add(self, room: str, message: dict) -> dict:
        """The message with its id, kept in the room's history."""
        position = self.positions.get(room, 0) + 1
        self.positions[room] = position
        message = {**message, "id": make_id(self.epoch, str(position))}
        kept = self.rooms.get(room)
        if kept is None:
            kept = self.rooms[room] = collections.deque(maxlen=self.size)
        kept.append(message)
        return message

    def recover(self, room: str, since: str | None) -> Recovery:
        return recover(list(self.rooms.get(room, ())), self.epoch, since, self.size, self.max_bytes)
