"""What the local ingest asks of the domain (the port; ``livecast.runtime`` implements it with domain commands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from livecast.providers.local.session import MediaObserver


@dataclass(frozen=True)
class PublishGrant:
    """An accepted publish: media of ``stream_id`` written as HLS under ``<media_dir>/<playback_id>/``.

    ``drives_lifecycle=False`` (a LiveKit broadcast's egress): the ``connected``, ``media_ready``,
    ``disconnected`` and ``window_expired`` hooks are not called for it (health and ``publish_stopped`` are);
    the session stays until the stream ends (``RTMPIngest.end_stream``), ready for the next egress."""

    stream_id: str
    playback_id: str
    drives_lifecycle: bool = True


class PublishRefused(Exception):
    """The publish is not allowed; ``reason`` is sent to the encoder in ``NetStream.Publish.BadName``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IngestHooks(Protocol):
    """What the ingest asks of the domain (wired in ``livecast.runtime``)."""

    async def authorize(self, stream_key: str) -> PublishGrant:
        """Raise ``PublishRefused`` for an unknown key or a stream that is over."""

    async def connected(self, stream_id: str) -> None: ...

    async def media_ready(self, stream_id: str) -> None: ...

    async def disconnected(self, stream_id: str) -> float:
        """Returns the reconnect window in seconds (0: the stream is already ended)."""

    async def window_expired(self, stream_id: str) -> None: ...

    def media_observer(self, stream_id: str) -> MediaObserver | None:
        """A fresh health observer for a publish that starts now (``None``: no health sampling)."""

    async def health_due(self, stream_id: str, observer: MediaObserver) -> None:
        """Every ``IngestConfig.health_seconds`` while publishing: sample ``observer`` and record the sample."""

    async def publish_stopped(self, stream_id: str, *, stream_over: bool) -> None:
        """A publish ended (``stream_over``: the stream is over too, e.g. its health alerts can be closed)."""
