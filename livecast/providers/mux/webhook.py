"""Mux webhook verification: the ``mux-signature`` header checked against the raw body, then the event parsed.

Mux signs every delivery (Mux docs, "Verify webhook signatures")::

    mux-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(signing secret, "<t>.<raw body>")>

Several ``v1`` values may be present (signing-secret rotation); one match is enough. Deliveries whose ``t``
is more than ``tolerance_seconds`` away from now are refused (replay protection). The comparison is constant
time and covers the exact bytes received, so re-serialised JSON never verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from livecast.providers.base import ProviderEvent, WebhookRejected

HEADER = "mux-signature"
SCHEME = "v1"
MAX_TIMESTAMP_DIGITS = 12
"""Unix seconds have 10 digits until 2286; a longer ``t`` is malformed (and would overflow float arithmetic)."""


def mux_signature(body: bytes, *, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature Mux sends for ``body`` signed at ``timestamp`` (unix seconds)."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_mux_webhook(
    body: bytes, headers: Mapping[str, str], *, secret: str, tolerance_seconds: int, now: float | None = None
) -> ProviderEvent:
    """Verify a Mux delivery and return its event (``provider`` ``"mux"``).

    ``headers`` is looked up case-insensitively (Starlette's ``Headers`` is; a plain dict is lower-cased here);
    ``now`` is unix seconds (default: the clock). Raises :class:`WebhookRejected` for a missing or malformed
    header, a stale or future timestamp, a signature that does not match, or a body that is not a Mux event
    (JSON object with string ``id``, ``type`` and ISO 8601 ``created_at``).

    ``object_id`` is the Mux live stream the event concerns (:func:`_live_stream_id`): ``object.id`` or
    ``data.id`` for live stream events, ``data.live_stream_id`` for asset and simulcast-target events.
    """
    header = _header(headers, HEADER)
    if not header:
        raise WebhookRejected(f"missing {HEADER} header")
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookRejected(f"{HEADER} timestamp is more than {tolerance_seconds} s away from now")
    expected = mux_signature(body, secret=secret, timestamp=timestamp)
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in signatures):
        raise WebhookRejected(f"{HEADER} does not match the body")
    return parse_mux_event(body)


def parse_mux_event(body: bytes) -> ProviderEvent:
    """A verified Mux body as a :class:`ProviderEvent`; ``WebhookRejected`` if it is not a Mux event."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise WebhookRejected("the body is not JSON") from e
    if not isinstance(payload, dict):
        raise WebhookRejected("the body is not a JSON object")
    event_id, kind, created = payload.get("id"), payload.get("type"), payload.get("created_at")
    if not (isinstance(event_id, str) and event_id and isinstance(kind, str) and kind):
        raise WebhookRejected("a Mux event needs string id and type")
    return ProviderEvent(
        provider="mux",
        event_id=event_id,
        type=kind,
        object_id=_live_stream_id(payload),
        occurred_at=_timestamp(created),
        data=payload,
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            value = value.strip()
            if not (value.isascii() and value.isdigit() and len(value) <= MAX_TIMESTAMP_DIGITS):
                raise WebhookRejected(f"{HEADER} has a malformed timestamp")
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value.strip())
    if timestamp is None or not signatures:
        raise WebhookRejected(f"{HEADER} must carry t=<unix seconds> and at least one {SCHEME}=<hex>")
    return timestamp, signatures


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise WebhookRejected("a Mux event needs an ISO 8601 created_at")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise WebhookRejected("a Mux event needs an ISO 8601 created_at") from e
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


LIVE_STREAM_EVENTS = "video.live_stream."
SIMULCAST_EVENTS = "video.live_stream.simulcast_target."


def _live_stream_id(payload: dict[str, Any]) -> str | None:
    """The Mux live stream an event is about (Mux "Webhook reference": ``object`` names the resource, ``data`` is
    that resource). ``object.id`` when ``object.type`` is ``live_stream``; else, for ``video.live_stream.*``
    events, ``data.id`` (``data`` is the live stream itself); for simulcast target events (``data`` is the target)
    and ``video.asset.*`` events (``data`` is the asset), ``data.live_stream_id``. ``None`` when the event names
    no live stream (an asset uploaded rather than recorded from a live stream)."""
    obj = payload.get("object") if isinstance(payload.get("object"), dict) else {}
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    kind = payload.get("type") if isinstance(payload.get("type"), str) else ""
    candidates: list[Any] = [obj.get("id")] if obj.get("type") == "live_stream" else []
    if kind.startswith(LIVE_STREAM_EVENTS) and not kind.startswith(SIMULCAST_EVENTS):
        candidates.append(data.get("id"))
    candidates.append(data.get("live_stream_id"))
    return next((c for c in candidates if isinstance(c, str) and c), None)
