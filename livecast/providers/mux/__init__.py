"""Mux Video: the :class:`MuxProvider` adapter (mux-python), signed playback, webhooks and monitoring."""

from livecast.providers.mux.provider import MuxProvider

__all__ = ["MuxProvider"]
