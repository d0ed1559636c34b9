"""What the local ingest asks of the domain (the port; ``livecast.runtime`` implements it with domain commands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from livecast.providers.local.publishers import PublishRefused
from livecast.providers.local.session import MediaObserver

__all__ = ["AdoptedStream", "IngestHooks", "PublishGrant", "PublishRefused"]


@dataclass(frozen=True)
class PublishGrant:
    """An accepted publish: media of ``stream_id`` written as HLS under ``<media_dir>/<playback_id>/``.

    ``drives_lifecycle=False`` (a LiveKit broadcast's egress): the ``connected``, ``media_ready``,
    ``disconnected`` and ``window_expired`` hooks are not called for it (health and ``publish_stopped`` are);
    the session stays until the stream ends (``RTMPIngest.end_stream``), ready for the next egress."""

    stream_id: str
    playback_id: str
    drives_lifecycle: bool = True


@dataclass(frozen=True)
class AdoptedStream:
    """A stream this ingest served before it (re)started, without a publisher now: HLS under
    ``<media_dir>/<playback_id>/``. ``seconds_left`` of its reconnect window (the ingest ends it then, unless its
    encoder is back); ``None``: the stream is over and its playlist only needs ``EXT-X-ENDLIST``."""

    stream_id: str
    playback_id: str
    seconds_left: float | None


class IngestHooks(Protocol):
    """What the ingest asks of the domain (wired in ``livecast.runtime``)."""

    async def authorize(self, stream_key: str) -> PublishGrant:
        """Raise ``PublishRefused`` for an unknown key or a stream that is over."""

    async def adopt(self) -> list[AdoptedStream]:
        """At start-up, before accepting connections: the streams this ingest served that have no publisher any
        more (those that were live are now reconnecting, with a fresh window)."""

    async def connected(self, stream_id: str) -> None:
        """A publish starts (also when it takes over from a stalled publisher). Raise ``PublishRefused`` to
        refuse it."""

    async def media_ready(self, stream_id: str) -> None: ...

    async def disconnected(self, stream_id: str, *, unpublished: bool = False) -> float | None:
        """The publisher went away (``unpublished``: after ``FCUnpublish``/``deleteStream``/``closeStream``, a clean
        stop). Returns the seconds left of the reconnect window (0: the stream is over; ``None``: another ingest
        process serves the stream now: leave its playlist alone)."""

    async def window_expired(self, stream_id: str) -> bool:
        """The reconnect window has passed without the encoder: True if the stream is over (ended now or before),
        False if it goes on (its encoder came back, possibly to another ingest)."""

    def media_observer(self, stream_id: str) -> MediaObserver | None:
        """A fresh health observer for a publish that starts now (``None``: no health sampling)."""

    async def health_due(self, stream_id: str, observer: MediaObserver) -> None:
        """Every ``IngestConfig.health_seconds`` while publishing: sample ``observer`` and record the sample."""

    async def publish_stopped(self, stream_id: str, *, stream_over: bool) -> None:
        """A publish ended (``stream_over``: the stream is over and its playlist closed, e.g. its health alerts can
        be closed and the stream released by this ingest)."""
