"""JSON Web Tokens with PyJWT: HS256 only, signed with ``RTLAB_SECRET``."""
from __future__ import annotations

import time

import jwt

from .settings import Settings

ALGORITHM = "HS256"


class AuthError(Exception):
    """A token was refused; the message is the reason given to the client."""


def issue_token(settings: Settings, username: str, ttl: int | None = None) -> str:
    now = int(time.time())
    claims = {"sub": username, "iat": now, "exp": now + (ttl if ttl is not None else settings.token_ttl_seconds)}
    return jwt.encode(claims, settings.secret, algorithm=ALGORITHM)


def verify_token(settings: Settings, token: str | None) -> dict:
    """The token's claims, or :class:`AuthError` saying what was wrong with it."""
    if not token:
        raise AuthError("missing token")
    try:
        # Naming the one algorithm we accept refuses `alg: none` and every other algorithm,
        # including RS256-signed-with-the-HMAC-key confusion.
        return jwt.decode(token, settings.secret, algorithms=[ALGORITHM],
                          options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidAlgorithmError:
        raise AuthError("token algorithm not allowed (HS256 only)") from None
    except jwt.InvalidSignatureError:
        raise AuthError("invalid token signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token lacks the {exc.claim!r} claim") from None
    except jwt.DecodeError:
        raise AuthError("malformed token") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from None


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None
