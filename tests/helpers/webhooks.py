"""Provider webhook deliveries as Mux and LiveKit send them (signed the documented way), and inbox helpers."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from google.protobuf.json_format import MessageToJson
from livekit.api import AccessToken
from livekit.protocol.webhook import WebhookEvent as LiveKitEvent

from livecast.domain.provider_models import WebhookEvent
from livecast.providers.mux.webhook import mux_signature

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def mux_event(
    kind: str, live_stream_id: str, *, at: datetime, event_id: str | None = None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Mux webhook body (Mux docs, "Webhook reference"): type, id, created_at, object, data, environment."""
    is_asset = kind.startswith("video.asset.")
    body_data = (
        data if data is not None else {"id": live_stream_id, "status": kind.rsplit(".", 1)[-1], "stream_key": "sk"}
    )
    return {
        "type": kind,
        "id": event_id or str(uuid.uuid4()),
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "object": {
            "type": "asset" if is_asset else "live_stream",
            "id": body_data.get("id") if is_asset else live_stream_id,
        },
        "data": body_data,
        "environment": {"name": "Production", "id": "env-test"},
        "attempts": [],
        "accessor_source": None,
        "accessor": None,
        "request_id": None,
    }


def mux_delivery(
    payload: dict[str, Any] | bytes, secret: str, *, timestamp: int | None = None, extra_v1: tuple[str, ...] = ()
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a delivery signed like Mux: ``mux-signature: t=<ts>,v1=<hex>``."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    t = int(time.time()) if timestamp is None else timestamp
    v1 = ",".join(f"v1={sig}" for sig in (*extra_v1, mux_signature(body, secret=secret, timestamp=t)))
    return body, {"mux-signature": f"t={t},{v1}", "content-type": "application/json"}


def livekit_delivery(
    event: LiveKitEvent, *, api_key: str, api_secret: str, ttl: timedelta = timedelta(minutes=5)
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a delivery signed like the LiveKit server (protojson body, JWT with its sha256)."""
    body = MessageToJson(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = AccessToken(api_key, api_secret).with_sha256(digest).with_ttl(ttl).to_jwt()
    return body, {"Authorization": token, "content-type": "application/webhook+json"}


async def post(
    base_url: str, provider: str, body: bytes, headers: dict[str, str], client: httpx.AsyncClient | None = None
) -> httpx.Response:
    url = f"{base_url}/webhooks/{provider}"
    if client is not None:
        return await client.post(url, content=body, headers=headers)
    async with httpx.AsyncClient(timeout=30) as own:
        return await own.post(url, content=body, headers=headers)


async def inbox(**filters: Any) -> list[WebhookEvent]:
    """Stored events, oldest first by provider time (then receipt)."""
    return await WebhookEvent.filter(**filters).order_by("occurred_at", "received_at")
