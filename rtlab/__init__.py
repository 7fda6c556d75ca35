"""rtlab: a hands-on lab for WebSockets and Server-Sent Events with FastAPI."""
__version__ = "0.1.0"

from .app import create_app  # noqa: E402
from .server import LabServer, ServerStartError, serve  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = ["LabServer", "ServerStartError", "Settings", "create_app", "serve"]
