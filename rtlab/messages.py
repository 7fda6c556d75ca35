"""Pydantic models for every message a client may send.

Strings are bounded, so a huge field value is an error reply, not a memory problem, and
unknown fields are refused, so a typo in a field name is reported instead of ignored.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Text = Annotated[str, StringConstraints(max_length=16_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def utc_now() -> str:
    """A message timestamp: ISO 8601, UTC."""
    return datetime.now(timezone.utc).isoformat()


# -- /ws/json, /ws/chat/{room} ------------------------------------------------------------
class Ping(Model):
    type: Literal["ping"]


class Message(Model):
    """``{"type": "message", "message": M}``; the type is required where other types exist too."""

    type: Literal["message"]
    message: Text


# -- /ws/auth/first-message ---------------------------------------------------------
class Auth(Model):
    type: Literal["auth"]
    token: Annotated[str, StringConstraints(max_length=4096)]


# -- HTTP bodies ----------------------------------------------------------------------
class TokenRequest(Model):
    username: Name


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


__all__ = ["Auth", "ChatPrivate", "ChatTyping", "DocEdit", "EditRange", "Message", "Model", "Name", "Ping", "Say",
           "Text", "TokenRequest", "TokenResponse", "Whisper", "utc_now"]


# -- /ws/chat/{room} ------------------------------------------------------------------
class ChatPrivate(Model):
    type: Literal["private"]
    to: Name
    message: Text


class ChatTyping(Model):
    type: Literal["typing"]


# -- /ws/broadcast, /ws/room/{room}, /ws/private/{user} -------------------------------------
class Say(Model):
    """``{"message": M}``: on these endpoints the type may be left out."""

    type: Literal["message"] = "message"
    message: Text


class Whisper(Model):
    type: Literal["private"] = "private"
    to: Name
    message: Text


# -- /ws/document/{doc} ----------------------------------------------------------------
class EditRange(Model):
    pos: Annotated[int, Field(ge=0)]
    delete: Annotated[int, Field(ge=0)] = 0
    insert: Text = ""


class DocEdit(Model):
    """``{"type": "edit", "version": V, "op": {...}}``, or the whole-content ``{"type": "edit", "content": C}``.

    ``op`` may also be a list of edits applied in order: the form the server uses itself when a
    transformed operation no longer fits one range, and the form a client's composed edits take.
    """

    type: Literal["edit"]
    version: Annotated[int, Field(ge=0)] | None = None
    op: EditRange | Annotated[list[EditRange], Field(min_length=1, max_length=100)] | None = None

    def op_wire(self) -> dict | list[dict] | None:
        if self.op is None:
            return None
        return [e.model_dump() for e in self.op] if isinstance(self.op, list) else self.op.model_dump()
    content: Annotated[str, StringConstraints(max_length=1_000_000)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "DocEdit":
        if self.content is not None:
            if self.op is not None:
                raise ValueError("give either content, or version and op, not both")
        elif self.op is None or self.version is None:
            raise ValueError("an edit needs version and op (or the whole content)")
        return self
