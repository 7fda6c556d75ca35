"""Shared documents edited by many users at once: the server side of OT."""
from __future__ import annotations

import collections

from . import ot

__all__ = ["MAX_DOCUMENT_CHARS", "Document", "OTClient"]

MAX_DOCUMENT_CHARS = 1_000_000


class Document:
    """Content, a version, and the operations applied since ``version - len(history)``."""

    def __init__(self, history_size: int = 1000, content: str = "", version: int = 0,
                 history: list[ot.Op] = ()) -> None:
        self.content = content
        self.version = version
        self.history: collections.deque[ot.Op] = collections.deque(history, maxlen=history_size)

    def apply_edit(self, base_version: int | None, edit: dict | None, content: str | None) -> ot.Op:
        """A client's edit message: the whole-content form, or an op on a base version."""
        if content is not None:
            return self.replace(content)
        return self.submit_wire(base_version, edit)

    def edit_message(self, op: ot.Op, user: str | None, whole: bool) -> dict:
        """What the other editors receive for an applied operation."""
        msg = {"type": "edit", "user_id": user, "version": self.version, "op": ot.wire(op)}
        if whole:
            msg["content"] = self.content
        return msg

    def submit(self, base_version: int, op: ot.Op) -> ot.Op:
        """Transform an operation made on ``base_version`` over everything applied since, apply it.

        Returns the operation as applied. Raises ``OTError`` for a version the server can't
        transform from, or an operation that does not fit.
        """
        if base_version > self.version or base_version < 0:
            raise ot.OTError(f"unknown version {base_version}; the document is at {self.version}")
        oldest = self.version - len(self.history)
        if base_version < oldest:
            raise ot.OTError(f"version {base_version} is too old (oldest kept: {oldest}); reload the document")
        for applied in list(self.history)[base_version - oldest:]:
            op, _ = ot.transform(op, applied)
        content = ot.apply(self.content, op)
        if len(content) > MAX_DOCUMENT_CHARS:
            raise ot.OTError(f"the document would exceed {MAX_DOCUMENT_CHARS} characters")
        self.content = content
        self.version += 1
        self.history.append(op)
        return op

    def length_at(self, version: int) -> int:
        """The document's length at an earlier version (to read an edit made on it)."""
        oldest = self.version - len(self.history)
        length = len(self.content)
        for applied in list(self.history)[max(0, version - oldest):]:
            length -= ot.length_change(applied)
        return length

    def submit_wire(self, base_version: int, edits: dict | list[dict]) -> ot.Op:
        """``submit`` for an edit in the wire form."""
        if base_version > self.version or base_version < 0:
            raise ot.OTError(f"unknown version {base_version}; the document is at {self.version}")
        return self.submit(base_version, ot.from_wire(edits, self.length_at(base_version)))

    def replace(self, content: str) -> ot.Op:
        """The whole-content form: last writer wins."""
        op = ot.from_edit(0, len(self.content), content, len(self.content))
        return self.submit(self.version, op)


class OTClient:
    """A client's side of the protocol: local edits, one in flight, transformed against the server's.

    ``edit()`` applies a local edit and returns the message to send, if one may be sent now;
    ``receive()`` takes a server message and returns the next message to send, if any.
    """

    def __init__(self, content: str = "", version: int = 0) -> None:
        self.content = content
        self.version = version
        self.pending: list[ot.Op] = []  # pending[0] is in flight; the rest wait for its ack

    def edit(self, pos: int, delete: int = 0, insert: str = "") -> dict | None:
        op = ot.from_edit(pos, delete, insert, len(self.content))
        self.content = ot.apply(self.content, op)
        if self.pending and len(self.pending) > 1:
            self.pending[-1] = ot.compose(self.pending[-1], op)
        else:
            self.pending.append(op)
        return self._message() if len(self.pending) == 1 else None

    def receive(self, msg: dict) -> dict | None:
        if msg["type"] == "init":
            self.content, self.version, self.pending = msg["content"], msg["version"], []
        elif msg["type"] == "ack":
            self.pending.pop(0)
            self.version = msg["version"]
            return self._message() if self.pending else None
        elif msg["type"] == "edit":
            if msg["version"] <= self.version:
                return None  # already part of the state we were given
            theirs = ot.from_wire(msg["op"], _length_before(self.content, self.pending))
            mine = []
            for p in self.pending:
                p2, theirs = ot.transform(p, theirs)
                mine.append(p2)
            self.pending = mine
            self.content = ot.apply(self.content, theirs)
            self.version = msg["version"]
        return None

    def _message(self) -> dict:
        return {"type": "edit", "version": self.version, "op": ot.wire(self.pending[0])}


def _length_before(content: str, pending: list[ot.Op]) -> int:
    """Length of the document as the server has it: ours, minus our unacknowledged edits."""
    return len(content) - sum(ot.length_change(p) for p in pending)
