"""Mux webhooks over real HTTP: signature verification, the stored inbox (duplicates, unknown streams), ordered
application by concurrent appliers. Event kinds and their effects: ``tests/test_webhooks_mux_events.py``.

The stream is created through GraphQL on the Mux adapter, which talks to the Mux emulator with the real SDK;
deliveries are signed as Mux documents it (``mux-signature: t=...,v1=HMAC-SHA256(secret, "t.body")``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from livecast.domain import webhooks
from livecast.domain.events import StreamStatusChanged, stream_channel
from livecast.settings import Settings
from tests.conftest import Server
from tests.helpers.mux_webhooks import SEQUENCE, MuxSetup, has_status, mux_setup, sequence, settled, status_of
from tests.helpers.waiting import eventually
from tests.helpers.webhooks import T0, inbox, mux_delivery, mux_event, post


@pytest.fixture
async def mux(settings: Settings) -> AsyncIterator[MuxSetup]:
    async with mux_setup(settings) as setup:
        yield setup


async def test_forged_stale_altered_or_unsigned_deliveries_are_refused_and_nothing_is_stored(mux: MuxSetup) -> None:
    stream_id, mux_id = await mux.stream()
    payload = mux_event("video.live_stream.active", mux_id, at=T0)
    body, headers = mux_delivery(payload, mux.secret)
    now = int(time.time())
    cases = {
        "forged signature": (body, {"mux-signature": f"t={now},v1={'0' * 64}"}),
        "wrong secret": mux_delivery(payload, "not-the-secret"),
        "stale timestamp": mux_delivery(payload, mux.secret, timestamp=now - 360),
        "timestamp from the future": mux_delivery(payload, mux.secret, timestamp=now + 360),
        "altered body": (body.replace(b"active", b"idle\x20\x20"), headers),
        "re-serialised body": (json.dumps(json.loads(body), indent=2).encode(), headers),
        "missing header": (body, {"content-type": "application/json"}),
        "malformed header": (body, {"mux-signature": "v1=abc"}),
    }
    for name, (case_body, case_headers) in cases.items():
        response = await post(mux.server.http, "mux", case_body, case_headers)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["code"] == "UNAUTHENTICATED", name
    assert await inbox() == []
    assert await status_of(stream_id) == "SCHEDULED"
    # the genuine delivery, signed just inside the tolerance, still works afterwards
    ok = await mux.deliver(payload, timestamp=int(time.time()) - 290)
    assert ok.status_code == 200, ok.text
    await eventually(lambda: has_status(stream_id, "LIVE"), timeout=10)


async def test_a_rotated_secret_verifies_with_any_v1(mux: MuxSetup) -> None:
    _, mux_id = await mux.stream()
    body, headers = mux_delivery(
        mux_event("video.live_stream.created", mux_id, at=T0), mux.secret, extra_v1=("ab" * 32,)
    )
    assert headers["mux-signature"].count("v1=") == 2
    response = await post(mux.server.http, "mux", body, headers)
    assert response.status_code == 200, response.text


async def test_unconfigured_or_unknown_providers_answer_404(server: Server) -> None:
    body, headers = mux_delivery(mux_event("video.live_stream.active", "x", at=T0), "secret")
    response = await post(server.http, "mux", body, headers)
    assert response.status_code == 404 and "LIVECAST_MUX_WEBHOOK_SECRET" in response.json()["message"]
    response = await post(server.http, "livekit", body, {"Authorization": "x"})
    assert response.status_code == 404 and "LIVECAST_LIVEKIT_API_KEY" in response.json()["message"]
    assert (await post(server.http, "vimeo", body, headers)).status_code == 404
    assert await inbox() == []


async def test_events_for_unknown_streams_are_stored_and_skipped(mux: MuxSetup) -> None:
    response = await mux.deliver(mux_event("video.live_stream.active", "not-ours", at=T0))
    assert response.status_code == 200 and response.json()["status"] == "SKIPPED"
    [row] = await inbox()
    assert row.stream_id is None and "no livecast stream" in row.outcome


async def test_a_thousand_concurrent_duplicates_are_stored_and_applied_once(mux: MuxSetup) -> None:
    stream_id, mux_id = await mux.stream()
    body, headers = mux_delivery(mux_event("video.live_stream.active", mux_id, at=T0), mux.secret)
    bus = mux.server.runtime.deps.bus
    async with bus.subscribe(stream_channel(stream_id)) as events:
        # aiohttp: httpx's connection pool costs O(queued requests) per request, too slow for 1,000 at once
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

            async def deliver() -> tuple[int, dict]:
                async with session.post(f"{mux.server.http}/webhooks/mux", data=body, headers=headers) as response:
                    return response.status, await response.json()

            started = time.perf_counter()
            answers = await asyncio.gather(*(deliver() for _ in range(1000)))
            elapsed = time.perf_counter() - started
        assert [status for status, _ in answers] == [200] * 1000
        assert sum(not answer["duplicate"] for _, answer in answers) == 1
        assert len({answer["id"] for _, answer in answers}) == 1
        [row] = await settled(stream_id, 1)
        assert row.status.value == "APPLIED" and row.attempts == 1
        first = await asyncio.wait_for(anext(aiter(events)), 5)
        assert isinstance(first, StreamStatusChanged) and first.status == "LIVE"
        with pytest.raises(TimeoutError):  # exactly one status change
            await asyncio.wait_for(anext(aiter(events)), 1.0)
    assert await status_of(stream_id) == "LIVE"
    print(f"1000 concurrent duplicate deliveries answered in {elapsed:.2f} s")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_a_shuffled_delivery_stored_before_applying_ends_in_the_right_state(
    settings: Settings, seed: int
) -> None:
    async with mux_setup(settings, workers=False) as mux:  # no jobs: everything is stored first
        stream_id, mux_id = await mux.stream()
        events = sequence(mux_id)
        random.Random(seed).shuffle(events)
        for payload in events:
            assert (await mux.deliver(payload)).status_code == 200
        assert await status_of(stream_id) == "SCHEDULED"
        handled = await webhooks.apply_stream(
            deps=mux.server.runtime.deps, stream_id=stream_id, locks=webhooks.StreamLocks()
        )
        assert handled == len(SEQUENCE)
        assert await status_of(stream_id) == "ENDED"
        rows = await inbox(stream_id=stream_id)
        assert [r.type.rsplit(".", 1)[-1] for r in rows] == SEQUENCE  # applied by provider time
        applied = sorted((r for r in rows if r.status.value == "APPLIED"), key=lambda r: r.applied_at)
        assert [r.occurred_at for r in applied] == sorted(r.occurred_at for r in applied)


async def test_concurrent_appliers_keep_the_order(settings: Settings) -> None:
    """Several appliers race on one stream's events (on PostgreSQL: one StreamLocks per simulated process,
    excluded by the advisory lock; on SQLite, single-process: one shared StreamLocks)."""
    async with mux_setup(settings, workers=False) as mux:
        stream_id, mux_id = await mux.stream()
        events = sequence(mux_id)
        random.Random(7).shuffle(events)
        for payload in events:
            assert (await mux.deliver(payload)).status_code == 200
        postgres = settings.database_url.startswith("postgres")
        shared = webhooks.StreamLocks()
        deps = mux.server.runtime.deps
        counts = await asyncio.gather(*(
            webhooks.apply_stream(deps=deps, stream_id=stream_id, locks=webhooks.StreamLocks() if postgres else shared)
            for _ in range(8)
        ))  # fmt: skip
        assert sum(counts) == len(SEQUENCE)
        rows = await inbox(stream_id=stream_id)
        assert all(r.attempts == 1 for r in rows)
        applied = sorted((r for r in rows if r.status.value == "APPLIED"), key=lambda r: r.applied_at)
        assert [r.occurred_at for r in applied] == sorted(r.occurred_at for r in applied)
        assert await status_of(stream_id) == "ENDED"


def test_the_tolerance_boundary_and_the_event_fields() -> None:
    from livecast.providers.base import WebhookRejected
    from livecast.providers.mux.webhook import verify_mux_webhook

    asset = {"id": "asset-9", "live_stream_id": "ls-1", "playback_ids": []}
    body, headers = mux_delivery(
        mux_event("video.asset.ready", "ls-1", at=T0, event_id="ev-9", data=asset), "s3cret", timestamp=1_000_000
    )
    for now in (1_000_000 - 300, 1_000_000 + 300):
        event = verify_mux_webhook(body, headers, secret="s3cret", tolerance_seconds=300, now=now)
        assert (event.provider, event.event_id, event.type, event.object_id, event.occurred_at) == (
            "mux",
            "ev-9",
            "video.asset.ready",
            "ls-1",
            T0,
        )
        assert event.data["data"]["id"] == "asset-9"
    for now in (1_000_000 - 301, 1_000_000 + 301):
        with pytest.raises(WebhookRejected, match="timestamp"):
            verify_mux_webhook(body, headers, secret="s3cret", tolerance_seconds=300, now=now)
    not_an_object = b"[1, 2]"
    _, list_headers = mux_delivery(not_an_object, "s3cret", timestamp=1_000_000)
    with pytest.raises(WebhookRejected, match="JSON object"):  # verified, but not a Mux event
        verify_mux_webhook(not_an_object, list_headers, secret="s3cret", tolerance_seconds=300, now=1_000_000)
