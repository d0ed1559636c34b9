"""LiveKit webhooks over real HTTP: JWT + body-hash verification, the inbox, and application to the broadcast.

The LiveKit emulator sends webhooks the way the LiveKit server does (protojson body, ``Authorization`` JWT with
the body's sha256) to ``/webhooks/livekit``; the stream is a ``livekit`` stream created through GraphQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from livekit.protocol import models as lk_models
from livekit.protocol.webhook import WebhookEvent as LiveKitEvent

from livecast.domain import broadcast, streams, webhooks
from livecast.settings import Settings
from livecast.workers import webhooks as webhook_jobs
from tests.conftest import Server, run_server
from tests.emulators.livekit import LiveKitEmulator, livekit_settings, running_livekit_emulator
from tests.helpers.client import create_stream
from tests.helpers.waiting import eventually
from tests.helpers.webhooks import T0, inbox, livekit_delivery, post


@dataclass
class LiveKitSetup:
    server: Server
    lk: LiveKitEmulator
    token: str

    async def stream(self) -> tuple[str, str]:
        """A new ``livekit`` stream: ``(livecast id, room name)``."""
        created = await create_stream(self.server.graphql_http, self.token, provider="livekit")
        b = await broadcast.broadcast_of(created["id"])
        assert b is not None and b.room_name in self.lk.rooms
        return created["id"], b.room_name

    def signed(self, event: LiveKitEvent, **kwargs: object) -> tuple[bytes, dict[str, str]]:
        return livekit_delivery(event, api_key=self.lk.api_key, api_secret=self.lk.api_secret, **kwargs)

    def webhooks_on(self, on: bool = True) -> None:
        self.lk.webhook_urls = [f"{self.server.http}/webhooks/livekit"] if on else []


@pytest.fixture
async def setup(settings: Settings) -> AsyncIterator[LiveKitSetup]:
    async with running_livekit_emulator() as lk:
        async with run_server(livekit_settings(settings, lk, provider_retry_attempts=2)) as server:
            yield LiveKitSetup(server, lk, await server.token("lk-owner"))


def room_event(kind: str, room: str, *, event_id: str = "EV_1", seconds: int = 0, num_dropped: int = 0) -> LiveKitEvent:
    event = LiveKitEvent(
        event=kind, id=event_id, created_at=int((T0 + timedelta(seconds=seconds)).timestamp()), num_dropped=num_dropped
    )
    event.room.CopyFrom(lk_models.Room(name=room, sid=f"RM_{room}"))
    return event


async def status_of(stream_id: str) -> str:
    return (await streams.existing_stream(stream_id)).status.value


async def test_deliveries_that_do_not_verify_are_refused_and_nothing_is_stored(setup: LiveKitSetup) -> None:
    stream_id, room = await setup.stream()
    event = room_event("room_started", room)
    body, headers = setup.signed(event)
    cases = {
        "wrong secret": livekit_delivery(event, api_key=setup.lk.api_key, api_secret="x" * 32),
        "wrong api key": livekit_delivery(event, api_key="APIother", api_secret=setup.lk.api_secret),
        "expired token": setup.signed(event, ttl=timedelta(minutes=-10)),
        "altered body": (body.replace(b"room_started", b"room_finished"), headers),
        "missing header": (body, {"content-type": "application/webhook+json"}),
        "not a JWT": (body, {"Authorization": "Bearer nope"}),
    }
    for name, (case_body, case_headers) in cases.items():
        response = await post(setup.server.http, "livekit", case_body, case_headers)
        assert response.status_code == 401, (name, response.text)
    assert await inbox() == []
    ok = await post(setup.server.http, "livekit", body, headers)
    assert ok.status_code == 200 and ok.json()["status"] == "PENDING", ok.text
    again = await post(setup.server.http, "livekit", body, headers)  # a retried delivery
    assert again.status_code == 200 and again.json()["duplicate"] is True
    [row] = await inbox()
    assert (row.provider, row.event_id, row.type, row.object_id, str(row.stream_id)) == (
        "livekit",
        "EV_1",
        "room_started",
        room,
        stream_id,
    )
    assert row.occurred_at == T0 and row.payload["room"]["name"] == room


async def test_room_events_from_livekit_drive_the_stream(setup: LiveKitSetup) -> None:
    stream_id, room = await setup.stream()
    setup.webhooks_on()
    setup.lk.join(room, "alice")
    await eventually(lambda: _is(stream_id, "LIVE"), timeout=15, what="LIVE after participant_joined")
    setup.lk.leave(room, "alice")
    await eventually(lambda: _is(stream_id, "RECONNECTING"), timeout=15, what="RECONNECTING after participant_left")
    await setup.lk.webhooks_idle()
    assert {status for _, status in setup.lk.webhooks_sent} == {200}
    rows = await inbox(stream_id=stream_id)
    assert {r.type for r in rows} >= {"participant_joined", "track_published", "participant_left"}
    await eventually(lambda: _settled(stream_id), timeout=10)


async def _settled(stream_id: str) -> bool:
    return all(r.status.value in ("APPLIED", "SKIPPED") for r in await inbox(stream_id=stream_id))


async def _is(stream_id: str, status: str) -> bool:
    return await status_of(stream_id) == status


async def test_dropped_events_are_reconciled_from_the_livekit_api(setup: LiveKitSetup) -> None:
    stream_id, room = await setup.stream()
    setup.lk.join(room, "alice")  # LiveKit dropped these webhooks: livecast has not seen alice
    assert await status_of(stream_id) == "SCHEDULED"
    body, headers = setup.signed(room_event("room_started", room, event_id="EV_after_drop", num_dropped=3))
    assert (await post(setup.server.http, "livekit", body, headers)).status_code == 200
    await eventually(lambda: _is(stream_id, "LIVE"), timeout=15, what="LIVE after reconciliation")
    [row] = await inbox(stream_id=stream_id)
    await eventually(lambda: _settled(stream_id), timeout=10)
    [row] = await inbox(stream_id=stream_id)
    assert row.status.value == "APPLIED" and "dropped 3" in row.outcome and "reconciled" in row.outcome


async def test_the_same_event_without_a_drop_changes_nothing(setup: LiveKitSetup) -> None:
    stream_id, room = await setup.stream()
    setup.lk.join(room, "alice")
    body, headers = setup.signed(room_event("room_started", room, event_id="EV_no_drop"))
    assert (await post(setup.server.http, "livekit", body, headers)).status_code == 200
    await eventually(lambda: _settled(stream_id), timeout=10)
    [row] = await inbox(stream_id=stream_id)
    assert "reconciled" not in row.outcome
    assert await status_of(stream_id) == "SCHEDULED"


async def test_the_periodic_reconciliation_catches_silent_changes(setup: LiveKitSetup) -> None:
    stream_id, room = await setup.stream()
    setup.webhooks_on()
    setup.lk.join(room, "alice")
    await eventually(lambda: _is(stream_id, "LIVE"), timeout=15)
    await setup.lk.webhooks_idle()
    setup.webhooks_on(False)
    setup.lk.leave(room, "alice")  # no webhook arrives
    assert await status_of(stream_id) == "LIVE"
    reconciled = await webhook_jobs.reconcile_livekit(slot=0, deps=setup.server.runtime.deps)
    assert reconciled == 1
    assert await status_of(stream_id) == "RECONNECTING"


async def test_an_unreachable_livekit_fails_the_event_and_later_events_wait_for_its_retry(settings: Settings) -> None:
    async with running_livekit_emulator() as lk:
        configured = livekit_settings(settings, lk, provider_retry_attempts=1)
        async with run_server(configured, workers=False) as server:  # the test runs the apply job itself
            setup = LiveKitSetup(server, lk, await server.token("lk-owner"))
            stream_id, room = await setup.stream()
            deps, locks = server.runtime.deps, webhooks.StreamLocks()
            lk.join(room, "alice")  # unseen by livecast (dropped webhooks)
            lk.available = False
            first = setup.signed(room_event("room_started", room, event_id="EV_first", num_dropped=2, seconds=0))
            assert (await post(server.http, "livekit", *first)).status_code == 200
            assert await webhooks.apply_stream(deps=deps, stream_id=stream_id, locks=locks) == 1
            [failed] = await inbox(stream_id=stream_id)
            assert failed.status.value == "FAILED" and failed.attempts == 1, failed.outcome
            second = setup.signed(room_event("track_published", room, event_id="EV_second", seconds=1))
            assert (await post(server.http, "livekit", *second)).status_code == 200
            assert await webhooks.apply_stream(deps=deps, stream_id=stream_id, locks=locks) == 0  # retry not due yet
            assert [r.status.value for r in await inbox(stream_id=stream_id)] == ["FAILED", "PENDING"]
            lk.available = True
            wait = (webhooks.retry_due_at(failed) - datetime.now(UTC)).total_seconds()
            assert 0 < wait <= webhooks.RETRY_BASE_SECONDS
            await asyncio.sleep(wait + 0.05)
            assert stream_id in await webhooks.due_streams()
            assert await webhooks.apply_stream(deps=deps, stream_id=stream_id, locks=locks) == 2
            rows = await inbox(stream_id=stream_id)
            assert [(r.event_id, r.status.value, r.attempts) for r in rows] == [
                ("EV_first", "APPLIED", 2),
                ("EV_second", "APPLIED", 1),
            ]
            assert rows[0].applied_at < rows[1].applied_at
            assert await status_of(stream_id) == "LIVE"


async def test_the_periodic_sweep_retries_a_failed_event(setup: LiveKitSetup) -> None:
    stream_id, room = await setup.stream()
    setup.lk.join(room, "alice")  # unseen by livecast
    setup.lk.available = False
    body, headers = setup.signed(room_event("room_started", room, event_id="EV_retry", num_dropped=1))
    assert (await post(setup.server.http, "livekit", body, headers)).status_code == 200

    async def row_status() -> str:
        return (await inbox(stream_id=stream_id))[0].status.value

    await eventually(lambda: _equals(row_status(), "FAILED"), timeout=10, what="FAILED while LiveKit is down")
    setup.lk.available = True
    await eventually(lambda: _equals(row_status(), "APPLIED"), timeout=15, what="APPLIED by the sweep")
    assert await status_of(stream_id) == "LIVE"


async def _equals(value: object, expected: str) -> bool:
    return await value == expected  # type: ignore[misc]
