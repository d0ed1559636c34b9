"""Health time series for analytics: the stored health samples (``StreamQualityMetric``, written by the
health monitor every ~5 s while a stream publishes) averaged per time bucket."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from livecast.domain.health_models import StreamQualityMetric

FIGURES = ("video_bitrate", "audio_bitrate", "frame_rate", "drift_ms", "keyframe_interval")


@dataclass(frozen=True)
class HealthPoint:
    """Means over the bucket ``[at, at + interval)`` of its ``samples``: bitrates in bits/s, frame rate in
    frames/s, drift in ms, keyframe interval in s; ``None`` when no sample in the bucket had the value."""

    at: datetime
    samples: int
    video_bitrate: float | None = None
    audio_bitrate: float | None = None
    frame_rate: float | None = None
    drift_ms: float | None = None
    keyframe_interval: float | None = None

    def values(self) -> dict[str, float | None]:
        """The averaged figures by name (for the CSV export)."""
        figures = asdict(self)
        del figures["at"], figures["samples"]
        return figures


async def series(*, stream_id: str, interval: int) -> list[HealthPoint]:
    """Health per ``interval`` seconds (buckets aligned on the Unix epoch, empty ones left out), oldest first."""
    rows = (
        await StreamQualityMetric.filter(stream_id=stream_id).order_by("sampled_at").values_list("sampled_at", *FIGURES)
    )
    buckets: dict[int, list[tuple]] = {}
    for row in rows:
        buckets.setdefault(math.floor(row[0].timestamp() / interval), []).append(row[1:])
    points = []
    for n, samples in sorted(buckets.items()):
        means = {}
        for i, name in enumerate(FIGURES):
            values = [s[i] for s in samples if s[i] is not None]
            means[name] = sum(values) / len(values) if values else None
        points.append(HealthPoint(at=datetime.fromtimestamp(n * interval, UTC), samples=len(samples), **means))
    return points
