"""LiveKit provider: rooms for WebRTC publishers, RTMP egress to a paired stream for HLS viewers.

``LiveKitProvider`` (registry name ``livekit``) lives in :mod:`.provider` and is imported on first use, so
importing :mod:`.ports` (the SDK-free capability types the domain uses) never loads ``livekit-api``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livecast.providers.livekit.provider import LiveKitProvider

__all__ = ["LiveKitProvider"]


def __getattr__(name: str) -> Any:
    if name == "LiveKitProvider":
        from livecast.providers.livekit.provider import LiveKitProvider

        return LiveKitProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
