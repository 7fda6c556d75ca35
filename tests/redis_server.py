"""The tests use the lab's own redis-server helper."""
from rtlab.redisproc import RedisServer, free_port

__all__ = ["RedisServer", "free_port"]
