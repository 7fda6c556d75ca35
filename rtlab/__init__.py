"""rtlab: a hands-on lab for WebSockets and Server-Sent Events with FastAPI.

The public face: ``serve``, ``LabServer``, ``ServerStartError``, ``Settings``, ``create_app`` and
``__version__``. They are imported on first use (PEP 562), so that ``import rtlab.tools.checks``
or ``rtlab.tools.redis`` does not pull in FastAPI, uvicorn and every route.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = ["LabServer", "ServerStartError", "Settings", "__version__", "create_app", "serve"]

_LAZY = {"LabServer": ".server", "ServerStartError": ".server", "serve": ".server",
         "Settings": ".settings", "create_app": ".app"}

if TYPE_CHECKING:
    from .app import create_app
    from .server import LabServer, ServerStartError, serve
    from .settings import Settings


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # once: later lookups don't come here
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
