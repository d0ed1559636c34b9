"""Event bus implementations (the port is :mod:`livecast.domain.bus`)."""

from __future__ import annotations

from urllib.parse import urlparse

from livecast.bus.hub import Hub


def create_bus(url: str, *, lossless_queue_size: int = 1000, ping_interval: float = 5.0) -> Hub:
    """``memory://`` (one process) or ``redis://host:port/db`` (across processes, survives Redis restarts)."""
    scheme = urlparse(url).scheme
    if scheme == "memory":
        from broadcaster._backends.memory import MemoryBackend

        return Hub(MemoryBackend(url), lossless_queue_size=lossless_queue_size)
    if scheme in ("redis", "rediss"):
        from livecast.bus.redis_backend import ResilientRedisBackend

        return Hub(ResilientRedisBackend(url, ping_interval=ping_interval), lossless_queue_size=lossless_queue_size)
    raise ValueError(f"unsupported LIVECAST_BUS_URL scheme {scheme!r}: use memory:// or redis://")


__all__ = ["Hub", "create_bus"]
