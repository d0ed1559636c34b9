"""Schema enums, exposed from the domain's enums (one definition of each)."""

from __future__ import annotations

import strawberry

from livecast.domain import models, provider_monitoring

StreamStatus = strawberry.enum(
    models.StreamStatus,
    name="StreamStatus",
    description=(
        "SCHEDULED: created, waiting for the encoder. PREPARING: encoder connected, nothing playable yet. "
        "LIVE: playable. RECONNECTING: encoder dropped, inside the reconnect window. ENDED, ARCHIVED, CANCELLED."
    ),
)
PlaybackPolicy = strawberry.enum(models.PlaybackPolicy, name="PlaybackPolicy")
LatencyMode = strawberry.enum(
    models.LatencyMode, name="LatencyMode", description="Mux latency modes: STANDARD, REDUCED, LOW."
)
HealthStatus = strawberry.enum(
    models.HealthStatus,
    name="HealthStatus",
    description="From drift deviation: EXCELLENT <= 500 ms, GOOD <= 1 s, POOR > 1 s.",
)
AlertSeverity = strawberry.enum(models.AlertSeverity, name="AlertSeverity")
ReminderKind = strawberry.enum(models.ReminderKind, name="ReminderKind")
ViewerCountSource = strawberry.enum(
    provider_monitoring.ViewerCountSource,
    name="ViewerCountSource",
    description="MUX_DATA: Mux Data's real-time concurrent viewers. LIVECAST: livecast's own playback beacons.",
)
