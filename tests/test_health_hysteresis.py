"""Durable alert hysteresis: the consecutive counts live in ``stream_health.hysteresis``, so samples of one stream
recorded by different processes (two ``HealthMonitor`` instances here; two Mux health pollers, as two
``livecast worker`` processes taking turns at the periodic job) still raise an alert once after ``raise_after``
bad samples and clear it once after ``clear_after`` good ones — also when they record at the same moment
(row lock). Runs on SQLite and, with ``LIVECAST_TEST_DATABASE_URL``, on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from livecast.domain import lifecycle, streams
from livecast.domain.alerts import HEALTH_KINDS, AlertKind, Hysteresis, evaluate
from livecast.domain.deps import Deps
from livecast.domain.events import ALERTS, AlertCleared, AlertRaised, owner_channel, stream_channel
from livecast.domain.health_models import StreamAlert, StreamHealthState
from livecast.domain.models import AlertSeverity, StreamStatus
from livecast.domain.monitoring import HealthMonitor
from livecast.domain.provider_monitoring import ProviderHealthPoller
from livecast.domain.validation import StreamFields
from livecast.settings import Settings
from livecast.workers import mux as mux_jobs
from tests.emulators.mux import MuxEmulator
from tests.helpers.waiting import eventually
from tests.test_health_alerts import GOOD, LOW_BITRATE, at, collecting, owner

K = AlertKind


@pytest.fixture
def settings(mux_test_settings: Settings) -> Settings:
    """The shared test settings pointed at the Mux emulator (what ``deps`` builds its providers from)."""
    return mux_test_settings


async def new_stream(deps: Deps) -> tuple[str, str]:
    actor = await owner()
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="hysteresis"))
    return str(stream.id), actor.user_id


async def stored_counts(stream_id: str) -> dict[str, list[int]] | None:
    return (await StreamHealthState.get(stream_id=stream_id)).hysteresis


def test_counts_round_trip_and_bad_stored_counts_count_as_zero() -> None:
    first = Hysteresis()
    first.step(evaluate(LOW_BITRATE), raise_after=2, clear_after=2)
    assert first.counts() == {"LOW_VIDEO_BITRATE": [1, 0]}, "good counts without an active alert are not kept"
    second = Hysteresis.restore({}, first.counts())  # another process continues
    raised, _ = second.step(evaluate(LOW_BITRATE), raise_after=2, clear_after=2)
    assert [f.kind for f in raised] == [K.LOW_VIDEO_BITRATE]
    second.opened(K.LOW_VIDEO_BITRATE, "a1")
    second.step(evaluate(GOOD), raise_after=2, clear_after=2)
    assert second.counts() == {"LOW_VIDEO_BITRATE": [0, 1]}
    third = Hysteresis.restore({K.LOW_VIDEO_BITRATE: "a1"}, second.counts())
    assert third.step(evaluate(GOOD), raise_after=2, clear_after=2) == ([], [(K.LOW_VIDEO_BITRATE, "a1")])
    assert third.counts() == {}

    garbage = {"LOW_VIDEO_BITRATE": [True, 1], "NOPE": [5, 0], "PACKET_LOSS": "x", "HIGH_RTT": [-1, 0],
               "DROPPED_FRAMES": [1]}  # fmt: skip
    assert Hysteresis.restore({}, garbage).counts() == {}
    assert K.EGRESS_FAILED not in HEALTH_KINDS


async def test_two_monitors_alternating_raise_once_and_clear_once(deps: Deps) -> None:
    sid, owner_id = await new_stream(deps)
    a, b = HealthMonitor(deps.bus), HealthMonitor(deps.bus)  # two processes sampling the same stream in turn
    channels = (stream_channel(sid, ALERTS), owner_channel(owner_id, ALERTS))
    async with collecting(deps.bus, *channels) as seen:
        await a.record(stream_id=sid, sample=at(0, LOW_BITRATE))
        assert await stored_counts(sid) == {"LOW_VIDEO_BITRATE": [1, 0]}
        assert await StreamAlert.filter(stream_id=sid).count() == 0, "one bad sample raises nothing"
        await b.record(stream_id=sid, sample=at(1, LOW_BITRATE))
        [alert] = await StreamAlert.filter(stream_id=sid)
        assert (alert.kind, alert.severity) == ("LOW_VIDEO_BITRATE", AlertSeverity.WARNING)
        assert alert.raised_at == at(1, GOOD).sampled_at, "raised at the second bad sample"
        await a.record(stream_id=sid, sample=at(2, LOW_BITRATE))  # still bad: nothing more
        await b.record(stream_id=sid, sample=at(3, GOOD))
        assert (await StreamAlert.get(id=alert.id)).cleared_at is None, "one good sample clears nothing"
        assert await stored_counts(sid) == {"LOW_VIDEO_BITRATE": [0, 1]}
        await a.record(stream_id=sid, sample=at(4, GOOD))
        await b.record(stream_id=sid, sample=at(5, GOOD))
        await eventually(lambda: len(seen) >= 4, what="raised and cleared on both channels")
        await asyncio.sleep(0.1)  # nothing else arrives
    assert (await StreamAlert.get(id=alert.id)).cleared_at == at(4, GOOD).sampled_at
    assert await StreamAlert.filter(stream_id=sid).count() == 1
    assert sorted(type(e).__name__ for e in seen) == ["AlertCleared", "AlertCleared", "AlertRaised", "AlertRaised"]
    assert {e.alert_id for e in seen if isinstance(e, AlertRaised | AlertCleared)} == {str(alert.id)}
    assert await stored_counts(sid) == {}


async def test_monitors_recording_at_once_raise_exactly_one_alert(deps: Deps) -> None:
    """Both "processes" get the second bad sample at the same moment, many times over: the row lock lets only
    one of them see the count reach ``raise_after``. (Without it both read one bad sample and both raise.)"""
    monitors = [HealthMonitor(deps.bus) for _ in range(4)]
    sids = [(await new_stream(deps))[0] for _ in range(6)]
    for sid in sids:
        await monitors[0].record(stream_id=sid, sample=at(0, LOW_BITRATE))

    async def second_bad(sid: str) -> None:
        await asyncio.gather(*(m.record(stream_id=sid, sample=at(1 + n, LOW_BITRATE)) for n, m in enumerate(monitors)))

    await asyncio.gather(*(second_bad(sid) for sid in sids))
    for sid in sids:
        assert await StreamAlert.filter(stream_id=sid).count() == 1
        assert await stored_counts(sid) == {"LOW_VIDEO_BITRATE": [1 + len(monitors), 0]}

    async def clear(sid: str) -> None:
        await asyncio.gather(*(m.record(stream_id=sid, sample=at(10 + n, GOOD)) for n, m in enumerate(monitors)))

    async with collecting(deps.bus, *(stream_channel(sid, ALERTS) for sid in sids)) as seen:
        await asyncio.gather(*(clear(sid) for sid in sids))
        await eventually(lambda: len(seen) >= len(sids), what="cleared")
        await asyncio.sleep(0.1)
    assert len(seen) == len(sids) and all(isinstance(e, AlertCleared) for e in seen), "cleared once each"
    assert await StreamAlert.filter(stream_id__in=sids, cleared_at__isnull=True).count() == 0


async def test_forget_restarts_the_counts_and_close_alerts_resets_them(deps: Deps) -> None:
    sid, _ = await new_stream(deps)
    monitor = HealthMonitor(deps.bus)
    await monitor.record(stream_id=sid, sample=at(0, LOW_BITRATE))
    monitor.forget(sid)  # the encoder disconnected: a new publish starts counting afresh
    await monitor.record(stream_id=sid, sample=at(1, LOW_BITRATE))
    assert await StreamAlert.filter(stream_id=sid).count() == 0
    assert await stored_counts(sid) == {"LOW_VIDEO_BITRATE": [1, 0]}
    await monitor.record(stream_id=sid, sample=at(2, LOW_BITRATE))
    assert await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True).count() == 1

    assert await HealthMonitor(deps.bus).close_alerts(stream_id=sid) == 1
    assert await stored_counts(sid) is None
    await monitor.record(stream_id=sid, sample=at(3, LOW_BITRATE))
    assert await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True).count() == 0, "counting starts over"


async def test_health_samples_do_not_clear_an_egress_alert(deps: Deps) -> None:
    sid, _ = await new_stream(deps)
    egress = await StreamAlert.create(
        stream_id=sid, kind=K.EGRESS_FAILED.value, severity=AlertSeverity.CRITICAL, message="egress failed",
        raised_at=at(0, GOOD).sampled_at,
    )  # fmt: skip
    monitor = HealthMonitor(deps.bus)
    for n in range(4):
        await monitor.record(stream_id=sid, sample=at(n, GOOD))
    assert (await StreamAlert.get(id=egress.id)).cleared_at is None, "not a health finding: health does not clear it"
    assert await monitor.close_alerts(stream_id=sid) == 1


# ------------------------------------------------------------------- Mux: the health job on two workers


async def test_mux_health_polled_by_two_workers_in_turn_raises_and_clears_once(
    deps: Deps, settings: Settings, mux_emulator: MuxEmulator
) -> None:
    actor = await owner()
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="Mux"), provider="mux")
    sid, mux_id = str(stream.id), str(stream.provider_stream_id)
    mux_emulator.set_status(mux_id, "active")
    await lifecycle.transition(bus=deps.bus, stream_id=sid, to=StreamStatus.LIVE, reason="mux active")
    workers = [ProviderHealthPoller(deps.bus), ProviderHealthPoller(deps.bus)]  # one poller per worker process
    period = 0

    async def poll() -> dict[str, str]:
        nonlocal period
        period += 1
        worker = workers[period % 2]  # whichever worker takes the periodic job this time
        return await mux_jobs.poll_health(period, deps=deps, settings=settings, poller=worker)

    mux_emulator.data.set_health(mux_id, session_avg_ms=900, deviation_ms=1500)  # POOR: STREAM_DRIFT
    async with collecting(deps.bus, stream_channel(sid, ALERTS)) as seen:
        assert await poll() == {sid: "POOR"}
        assert await StreamAlert.filter(stream_id=sid).count() == 0
        assert await poll() == {sid: "POOR"}
        assert [a.kind for a in await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True)] == ["STREAM_DRIFT"]
        assert await poll() == {sid: "POOR"}
        mux_emulator.data.set_health(mux_id, session_avg_ms=900, deviation_ms=200)
        assert await poll() == {sid: "EXCELLENT"}
        assert await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True).count() == 1
        assert await poll() == {sid: "EXCELLENT"}
        await eventually(lambda: len(seen) >= 2, what="raised and cleared")
        await asyncio.sleep(0.1)
    assert [type(e).__name__ for e in seen] == ["AlertRaised", "AlertCleared"]
    assert await StreamAlert.filter(stream_id=sid).count() == 1
    assert await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True).count() == 0
