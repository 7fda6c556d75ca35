"""Settings: every knob of the lab, read from ``RTLAB_*`` environment variables.

Keyword arguments to :func:`rtlab.serve` override the environment, so a notebook can
say ``serve(max_connections_per_user=2)`` without touching ``os.environ``.
"""
from __future__ import annotations

import logging
import secrets
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "with_overrides"]

log = logging.getLogger("rtlab")

KiB = 1024
MiB = 1024 * KiB


class Settings(BaseSettings):
    """The server's settings. Each field can be set as ``RTLAB_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="RTLAB_", frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0 picks a free port")
    secret: str = Field("", repr=False, description="JWT signing key (HS256)")
    broker: str = Field("memory", description="'memory' or redis://host:port/db")
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()

    token_ttl_seconds: int = Field(3600, ge=1, le=7 * 24 * 3600)
    max_message_bytes: int = Field(64 * KiB, ge=1 * KiB, le=16 * MiB)
    ping_interval: float = Field(20.0, gt=0, le=3600)
    ping_timeout: float = Field(20.0, gt=0, le=3600)
    max_connections_per_user: int = Field(3, ge=1, le=1000)
    outbox_limit_bytes: int = Field(1 * MiB, ge=16 * KiB, le=256 * MiB)
    stall_timeout: float = Field(5.0, gt=0, le=600)
    history_size: int = Field(100, ge=1, le=100_000)
    # The most a `history` frame carries, in bytes of its messages' JSON: the newest messages that fit.
    # Under the 1 MiB a `websockets` client accepts by default, whatever the messages' sizes.
    history_max_bytes: int = Field(512 * KiB, ge=16 * KiB, le=64 * MiB)
    event_log_size: int = Field(1000, ge=100, le=1_000_000)
    shutdown_timeout: float = Field(2.0, gt=0, le=60)
    # Generous on purpose: it stops floods, not clients that are merely busy (or tests that send
    # a few thousand messages to check ordering and slow-consumer isolation).
    rate_limit: float = Field(1000.0, ge=0, le=1_000_000,
                              description="messages per second per connection, sustained; 0 turns it off")
    rate_limit_burst: int = Field(2000, ge=1, le=1_000_000,
                                  description="messages a connection may send at once before the rate applies")
    per_message_deflate: bool = Field(False, description="offer permessage-deflate (see notebook 10)")
    ws_protocol: Literal["websockets-sansio", "wsproto", "websockets"] = Field(
        "websockets-sansio", description="uvicorn's WebSocket implementation")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value):
        if isinstance(value, str):
            value = value.split(",")
        return tuple(o.strip().rstrip("/") for o in value if o and o.strip())

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        if value != "memory" and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("broker must be 'memory' or a redis:// URL")
        return value

    @field_validator("secret")
    @classmethod
    def _secret_or_random(cls, value: str) -> str:
        return value or _process_secret()


_SECRET: str | None = None


def _process_secret() -> str:
    """One random key per process, so that every server of a kernel trusts the same tokens."""
    global _SECRET
    if _SECRET is None:
        log.warning("RTLAB_SECRET is not set: using a random per-process key; "
                    "tokens will not survive a restart")
        _SECRET = secrets.token_urlsafe(32)
    return _SECRET


def with_overrides(settings: Settings | None = None, **overrides) -> Settings:
    """Validated settings: ``settings`` (or the environment) with ``overrides`` on top."""
    if settings is None:
        return Settings(**overrides)
    return Settings(**{**settings.model_dump(), **overrides})
