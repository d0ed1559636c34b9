"""Mux health and viewers: the periodic jobs (driven directly) with the real SDKs against the Mux emulator.

A LIVE Mux stream gets health samples and alerts from Mux's live stream health stats through the same rules as
local streams; its viewer count comes from Mux Data (source ``MUX_DATA``), falls back to playback beacons
(``LIVECAST``) while Mux Data fails, and returns to Mux Data afterwards; GraphQL shows ``viewerCountSource``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecast.domain import lifecycle, monitoring, streams, viewer_counts
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.domain.events import ALERTS, VIEWERS, stream_channel
from livecast.domain.health_models import StreamAlert
from livecast.domain.models import HealthStatus, Stream, StreamStatus
from livecast.domain.provider_monitoring import ProviderHealthPoller
from livecast.domain.provider_viewers import refresh_viewers
from livecast.domain.validation import StreamFields
from livecast.domain.viewer_models import ViewerSample
from livecast.providers.base import ProviderRejected, StreamRef
from livecast.providers.mux.monitoring import MuxMonitoring, parse_health
from livecast.runtime import running
from livecast.settings import Settings
from livecast.workers import mux as mux_jobs
from tests.conftest import _truncate, run_server
from tests.emulators.mux import MuxEmulator
from tests.helpers.beacons import Player
from tests.helpers.client import gql_http
from tests.helpers.waiting import eventually


@pytest.fixture
def settings(mux_test_settings: Settings) -> Settings:
    """The shared test settings pointed at the Mux emulator (2 attempts per call, so failures are quick)."""
    return mux_test_settings


async def live_mux_stream(deps: Deps, mux_emulator: MuxEmulator) -> Stream:
    """A stream created on Mux (emulator) through the domain, active on Mux and LIVE in livecast."""
    user = await ensure_user(name=f"owner-{uuid.uuid4().hex[:6]}", roles=[])
    actor = Principal(user_id=str(user.id), name=user.name, roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="On Mux"), provider="mux")
    assert stream.provider_stream_id in mux_emulator.live_streams
    mux_emulator.set_status(stream.provider_stream_id, "active")
    return await lifecycle.transition(bus=deps.bus, stream_id=str(stream.id), to=StreamStatus.LIVE, reason="mux active")


async def next_event(events: AsyncIterator[Any]) -> Any:
    return await asyncio.wait_for(anext(events), 5)


async def play(deps: Deps, stream_id: str, viewers: int) -> None:
    for n in range(viewers):
        assert (await Player(deps.viewers, stream_id, f"viewer-{n}").send("playing")).counts


async def test_health_of_a_live_mux_stream_raises_and_clears_a_drift_alert(
    deps: Deps, settings: Settings, mux_emulator: MuxEmulator
) -> None:
    stream = await live_mux_stream(deps, mux_emulator)
    sid, mux_id = str(stream.id), stream.provider_stream_id
    poller = ProviderHealthPoller(deps.bus)

    async def poll() -> dict[str, str]:
        return await mux_jobs.poll_health(1, deps=deps, settings=settings, poller=poller)

    mux_emulator.data.set_health(mux_id, session_avg_ms=380, deviation_ms=120)
    assert await poll() == {sid: "EXCELLENT"}
    state = (await monitoring.health_states([sid]))[0]
    assert state.latest is not None and (state.latest.drift_ms, state.latest.drift_deviation_ms) == (380, 120)
    assert mux_emulator.data.requests[-1] == ("/live-stream-health", {"sub": [mux_id]})

    mux_emulator.data.set_health(mux_id, session_avg_ms=900, deviation_ms=1500)
    async with deps.bus.subscribe(stream_channel(sid, ALERTS)) as alerts:
        assert await poll() == {sid: "POOR"}
        assert await StreamAlert.filter(stream_id=sid).count() == 0, "one POOR sample raises nothing (hysteresis)"
        assert await poll() == {sid: "POOR"}
        raised = await next_event(alerts)
    assert (raised.kind, raised.severity) == ("STREAM_DRIFT", "WARNING")
    assert "1.5 s" in raised.message
    assert [a.kind for a in await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True)] == ["STREAM_DRIFT"]

    mux_emulator.data.set_health(mux_id, session_avg_ms=900, deviation_ms=-700)  # GOOD: no drift alert
    assert await poll() == {sid: "GOOD"}
    assert await poll() == {sid: "GOOD"}
    assert await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True).count() == 0

    mux_emulator.set_status(mux_id, "idle")  # encoder gone on Mux: "unknown", no drift figures
    assert await poll() == {sid: "UNKNOWN"}
    latest = (await monitoring.health_states([sid]))[0].latest
    assert latest is not None and latest.status is HealthStatus.UNKNOWN and latest.drift_deviation_ms is None


async def test_alerts_of_an_ended_mux_stream_are_cleared_and_unconfigured_health_is_a_no_op(
    deps: Deps, settings: Settings, mux_emulator: MuxEmulator
) -> None:
    stream = await live_mux_stream(deps, mux_emulator)
    sid, mux_id = str(stream.id), stream.provider_stream_id
    poller = ProviderHealthPoller(deps.bus)
    mux_emulator.data.set_health(mux_id, session_avg_ms=2000, deviation_ms=3000)
    for _ in range(2):
        await mux_jobs.poll_health(1, deps=deps, settings=settings, poller=poller)
    assert await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True).count() == 1

    await lifecycle.transition(bus=deps.bus, stream_id=sid, to=StreamStatus.ENDED, reason="owner ended")
    assert await mux_jobs.poll_health(2, deps=deps, settings=settings, poller=poller) == {}
    assert await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True).count() == 0

    unsigned = settings.model_copy(update={"mux_signing_key_id": None, "mux_signing_private_key": None})
    asked = len(mux_emulator.data.requests)
    await live_mux_stream(deps, mux_emulator)
    assert await mux_jobs.poll_health(3, deps=deps, settings=unsigned, poller=poller) == {}
    assert len(mux_emulator.data.requests) == asked, "no signing key: Mux is not asked"


async def test_stats_api_refuses_a_token_from_an_unknown_signing_key(
    settings: Settings, mux_emulator: MuxEmulator
) -> None:
    """The emulator checks the JWT like stats.mux.com; a key Mux does not know is refused, not retried."""
    ref = StreamRef(provider_stream_id="some-live-stream", stream_key="k", playback_id="p", playback_policy="PUBLIC")
    stranger = MuxMonitoring(settings.model_copy(update={"mux_signing_key_id": "not-a-mux-key"}))
    with pytest.raises(ProviderRejected, match="HTTP 401"):
        await stranger.live_health(ref)
    assert mux_emulator.data.requests == []


async def test_viewer_count_from_mux_data_falls_back_to_beacons_and_comes_back(
    deps: Deps, settings: Settings, mux_emulator: MuxEmulator
) -> None:
    stream = await live_mux_stream(deps, mux_emulator)
    sid, mux_id = str(stream.id), stream.provider_stream_id
    await play(deps, sid, viewers=3)
    mux_emulator.data.set_viewers(mux_id, {"live": 40, "": 2})  # two breakdown rows: the stream's CCV is their sum

    async with deps.bus.subscribe(stream_channel(sid, VIEWERS)) as counts:
        assert await mux_jobs.count_viewers(1, deps=deps, settings=settings) == {sid: 42}
        assert (await next_event(counts)).count == 42
    path, query = mux_emulator.data.requests[-1]
    assert path == "/data/v1/monitoring/metrics/current-concurrent-viewers/breakdown"
    assert query["filters[]"] == [f"live_stream_id:{mux_id}"] and query["dimension"] == ["stream_type"]
    row = await Stream.get(id=sid)
    assert (row.viewer_count, row.peak_viewer_count, row.viewer_count_source) == (42, 42, "MUX_DATA")
    assert [s.count for s in await ViewerSample.filter(stream_id=sid)] == [42]

    await viewer_counts.refresh(deps=deps)  # the beacon count (3) leaves a MUX_DATA stream alone
    assert (await Stream.get(id=sid)).viewer_count == 42

    mux_emulator.data.fail(503)
    assert await mux_jobs.count_viewers(2, deps=deps, settings=settings) == {sid: 3}
    row = await Stream.get(id=sid)
    assert (row.viewer_count, row.peak_viewer_count, row.viewer_count_source) == (3, 42, "LIVECAST")
    await play(deps, sid, viewers=5)
    await viewer_counts.refresh(deps=deps)  # meanwhile the beacon count keeps it current
    assert (await Stream.get(id=sid)).viewer_count == 5

    mux_emulator.data.fail(None)
    mux_emulator.data.set_viewers(mux_id, 50)
    assert await mux_jobs.count_viewers(3, deps=deps, settings=settings) == {sid: 50}
    row = await Stream.get(id=sid)
    assert (row.viewer_count, row.peak_viewer_count, row.viewer_count_source) == (50, 50, "MUX_DATA")


async def test_unconfigured_mux_data_counts_from_beacons(
    deps: Deps, settings: Settings, mux_emulator: MuxEmulator
) -> None:
    stream = await live_mux_stream(deps, mux_emulator)
    sid = str(stream.id)
    mux_emulator.data.set_viewers(stream.provider_stream_id, 9)
    await Stream.filter(id=sid).update(viewer_count_source="MUX_DATA")
    await play(deps, sid, viewers=2)
    run = await refresh_viewers(deps=deps, provider="mux", enabled=False)
    assert (run.counts, run.sources[sid].value) == ({sid: 2}, "LIVECAST")
    assert mux_emulator.data.requests == [], "Mux Data is not asked"
    assert (await Stream.get(id=sid)).viewer_count_source == "LIVECAST"


async def test_graphql_shows_where_the_viewer_count_comes_from(settings: Settings, mux_emulator: MuxEmulator) -> None:
    async with run_server(settings, workers=False) as server:
        token = await server.token("caster")
        created = await gql_http(
            server.graphql_http,
            'mutation { createStream(input: {title: "Mux show", provider: "mux"}) { ... on Stream { id provider } } }',
            token=token,
        )
        sid = created["createStream"]["id"]
        query = "query($id: ID!) { stream(id: $id) { viewerCount viewerCountSource } }"
        assert (await gql_http(server.graphql_http, query, {"id": sid}))["stream"] == {
            "viewerCount": 0, "viewerCountSource": "LIVECAST",
        }  # fmt: skip
        deps: Deps = server.runtime.deps
        stream = await Stream.get(id=sid)
        mux_emulator.set_status(stream.provider_stream_id, "active")
        await lifecycle.transition(bus=deps.bus, stream_id=sid, to=StreamStatus.LIVE, reason="mux active")
        mux_emulator.data.set_viewers(stream.provider_stream_id, 7)
        await mux_jobs.count_viewers(1, deps=deps, settings=server.settings)
        assert (await gql_http(server.graphql_http, query, {"id": sid}))["stream"] == {
            "viewerCount": 7, "viewerCountSource": "MUX_DATA",
        }  # fmt: skip


async def test_embedded_workers_run_both_mux_jobs_on_their_periods(
    settings: Settings, mux_emulator: MuxEmulator
) -> None:
    """The jobs are registered with their periods and their dependencies (the poller) in ``livecast serve``."""
    # model_copy does not validate: 1 s periods (below the 5-10 s allowed to operators) keep the test short
    quick = settings.model_copy(update={"mux_health_seconds": 1.0, "mux_viewers_seconds": 1.0})
    async with running(quick, ingest=False, workers=True) as runtime:
        await _truncate()
        assert runtime.jobs is not None
        periods = {job.name: job.period for job in runtime.jobs.periodic}
        assert (periods[mux_jobs.HEALTH], periods[mux_jobs.VIEWERS]) == (1.0, 1.0)
        stream = await live_mux_stream(runtime.deps, mux_emulator)
        sid = str(stream.id)
        mux_emulator.data.set_health(stream.provider_stream_id, session_avg_ms=5000, deviation_ms=2500)
        mux_emulator.data.set_viewers(stream.provider_stream_id, 11)
        await eventually(lambda: StreamAlert.exists(stream_id=sid, kind="STREAM_DRIFT"), timeout=15, what="drift alert")
        await eventually(lambda: Stream.exists(id=sid, viewer_count=11, viewer_count_source="MUX_DATA"), timeout=15)


def test_health_answers_are_parsed_as_mux_documents_them() -> None:
    documented = {"data": [{"ingest_health": {"updated_at": "2022-11-14T17:32:23", "stream_drift_session_avg": 384,
                                              "stream_drift_deviation_from_rolling_avg": 12, "status": "excellent"}}]}  # fmt: skip
    health = parse_health(documented)
    assert (health.status, health.drift_avg_ms, health.drift_deviation_ms) == ("EXCELLENT", 384.0, 12.0)
    assert health.measured_at is not None and health.measured_at.isoformat() == "2022-11-14T17:32:23+00:00"
    assert parse_health({"data": []}).status == "UNKNOWN"
    for malformed in ({}, {"data": [{}]}, {"data": [{"ingest_health": {"stream_drift_session_avg": "fast"}}]}, []):
        with pytest.raises(ProviderRejected, match="unexpected live-stream-health answer"):
            parse_health(malformed)


def test_the_health_period_is_bounded_to_what_mux_supports() -> None:
    """Mux updates live stream health every 5 s; the issue asks for polls every 5-10 s."""
    assert Settings().mux_health_seconds == 10.0
    for seconds in (5, 7.5, 10):
        assert Settings(mux_health_seconds=seconds).mux_health_seconds == seconds
    for seconds in (0, 4.9, 10.1, 60):
        with pytest.raises(ValueError, match="mux_health_seconds"):
            Settings(mux_health_seconds=seconds)
