"""Attack 4 (webhooks): timestamps out of any plausible range, in the signature header (Mux ``t=``) or in a signed
LiveKit event's ``createdAt``, are refused with 401 like any delivery that does not verify; nothing is stored."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from livekit.protocol.webhook import WebhookEvent as LiveKitEvent

from livecast.domain.provider_models import WebhookEvent
from tests.abuse.conftest import assert_refused, start_target
from tests.helpers.webhooks import livekit_delivery, mux_delivery, mux_event, post

MUX_SECRET = "mux-webhook-secret-for-abuse-tests"
LK_KEY, LK_SECRET = "lk-abuse-key", "lk-abuse-secret-with-at-least-32-characters"


async def test_impossible_timestamps_are_refused(abuse_db: str, tmp_path: Path) -> None:
    settings = {"mux_webhook_secret": MUX_SECRET, "mux_token_id": "id", "mux_token_secret": "secret",
                "livekit_url": "http://127.0.0.1:9", "livekit_api_key": LK_KEY, "livekit_api_secret": LK_SECRET}  # fmt: skip
    async with start_target(abuse_db, tmp_path, **settings) as target:
        stored = await WebhookEvent.all().count()
        deliveries = []
        for t in (10**400, -(10**30), 10**13):
            body, headers = mux_delivery(
                mux_event("video.live_stream.active", "ls1", at=datetime.now(UTC)), MUX_SECRET, timestamp=t
            )
            deliveries.append(("mux", body, headers))
        for created_at in (2**62, 2**40):
            event = LiveKitEvent(id=f"EV_abuse_{created_at}", event="room_started", created_at=created_at)
            event.room.name = "abuse-room"
            body, headers = livekit_delivery(event, api_key=LK_KEY, api_secret=LK_SECRET)
            deliveries.append(("livekit", body, headers))
        async with target.attack(requests=len(deliveries)), httpx.AsyncClient(timeout=5) as client:
            for provider, body, headers in deliveries:
                started = time.monotonic()
                response = await post(target.http, provider, body, headers, client)
                assert_refused(response, time.monotonic() - started, status=401)
        assert await WebhookEvent.all().count() == stored
