"""Validation of stream fields shared by create and update. Raises ``ValidationFailed`` naming the field."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from livecast.domain.errors import ValidationFailed
from livecast.domain.models import LatencyMode, PlaybackPolicy
from livecast.domain.urls import public_url


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A field that was not given (distinct from ``None``, which clears a nullable field)."""

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
RECONNECT_WINDOW_MAX = 1800
"""Seconds; Mux's limit for ``reconnect_window``."""
MAX_DURATION_RANGE = (60, 12 * 3600)
"""Seconds; Mux accepts ``max_continuous_duration`` from 60 s to 12 h."""


@dataclass
class StreamFields:
    """Fields a caller may set on a stream; ``UNSET`` leaves a field alone."""

    title: Any = UNSET
    description: Any = UNSET
    thumbnail_url: Any = UNSET
    scheduled_at: Any = UNSET
    latency_mode: Any = UNSET
    playback_policy: Any = UNSET
    reconnect_window: Any = UNSET
    max_continuous_duration: Any = UNSET
    recording_enabled: Any = UNSET
    end_on_unpublish: Any = UNSET
    chat_enabled: Any = UNSET
    reactions_enabled: Any = UNSET


def validate_fields(given: StreamFields, *, creating: bool) -> dict[str, Any]:
    """Return the model values for the given fields, or raise ``ValidationFailed`` for the first bad one."""
    values = {f.name: getattr(given, f.name) for f in fields(given) if getattr(given, f.name) is not UNSET}
    if creating and "title" not in values:
        raise ValidationFailed("title is required", field="title")
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None and name not in ("thumbnail_url", "scheduled_at", "description"):
            raise ValidationFailed(f"{_camel(name)} cannot be null", field=_camel(name))
        out[name] = _CHECKS.get(name, _same)(value) if value is not None else value
    if out.get("description", "") is None:
        out["description"] = ""
    return out


def _title(value: str) -> str:
    title = value.strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise ValidationFailed(f"title must be 1-{TITLE_MAX} characters (got {len(title)})", field="title")
    return title


def _description(value: str) -> str:
    if len(value) > DESCRIPTION_MAX:
        raise ValidationFailed(f"description must be at most {DESCRIPTION_MAX} characters", field="description")
    return value


def _url(value: str) -> str:
    """An http(s) URL on a public host (``urls.public_url``)."""
    return public_url(value, field="thumbnailUrl", schemes=("http", "https"))


def _scheduled(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed("scheduledAt must include a time zone offset (ISO 8601)", field="scheduledAt")
    return value


def _reconnect(value: int) -> int:
    if not 0 <= value <= RECONNECT_WINDOW_MAX:
        raise ValidationFailed(
            f"reconnectWindow must be 0-{RECONNECT_WINDOW_MAX} seconds (got {value})", field="reconnectWindow"
        )
    return value


def _max_duration(value: int) -> int:
    low, high = MAX_DURATION_RANGE
    if not low <= value <= high:
        raise ValidationFailed(
            f"maxContinuousDuration must be {low}-{high} seconds (got {value})", field="maxContinuousDuration"
        )
    return value


def _same(value: Any) -> Any:
    return value


_CHECKS = {
    "title": _title,
    "description": _description,
    "thumbnail_url": _url,
    "scheduled_at": _scheduled,
    "reconnect_window": _reconnect,
    "max_continuous_duration": _max_duration,
    "latency_mode": LatencyMode,
    "playback_policy": PlaybackPolicy,
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
