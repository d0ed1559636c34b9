"""Alerts: the rules on samples, hysteresis (no flapping, raised once, cleared after recovery), and the
monitor that stores samples and alerts and publishes them on the stream's and the owner's channels."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from livecast.domain import monitoring, streams
from livecast.domain.alerts import AlertKind, AlertThresholds, Hysteresis, evaluate, validate_changes
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.bus import Delivery, EventBus
from livecast.domain.deps import Deps
from livecast.domain.errors import Forbidden, ValidationFailed
from livecast.domain.events import (
    ALERTS,
    HEALTH,
    AlertCleared,
    AlertRaised,
    Event,
    HealthSampled,
    owner_channel,
    stream_channel,
)
from livecast.domain.health import HealthSample
from livecast.domain.health_models import StreamAlert, StreamHealthState, StreamQualityMetric
from livecast.domain.models import AlertSeverity, HealthStatus, Stream
from livecast.domain.monitoring import HealthMonitor
from livecast.domain.validation import StreamFields
from livecast.settings import Settings
from livecast.workers.health import purge_samples
from tests.helpers.waiting import eventually

K = AlertKind
T0 = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = HealthSample(
    status=HealthStatus.EXCELLENT, sampled_at=T0, drift_ms=120.0, drift_deviation_ms=20.0, video_bitrate=2_500_000,
    audio_bitrate=128_000, frame_rate=30.0, width=1280, height=720, keyframe_interval=2.0, codec="h264 High 3.1",
    encoder="obs", media_gap=0.03, dropped_frames=0.0,
)  # fmt: skip
LOW_BITRATE = dataclasses.replace(GOOD, video_bitrate=320_000)


def steps(
    hysteresis: Hysteresis, samples: list[HealthSample], thresholds: AlertThresholds = AlertThresholds()
) -> list[str]:
    """Feed samples; returns what happened per sample: '' , 'raise:KIND' or 'clear:KIND'."""
    log = []
    for n, sample in enumerate(samples):
        raised, cleared = hysteresis.step(
            evaluate(sample, thresholds), raise_after=thresholds.raise_after, clear_after=thresholds.clear_after
        )
        for finding in raised:
            hysteresis.opened(finding.kind, f"alert-{n}")
        log.append(" ".join([f"raise:{f.kind.value}" for f in raised] + [f"clear:{k.value}" for k, _ in cleared]))
    return log


def test_rules_and_messages() -> None:
    assert evaluate(GOOD) == {}
    low = evaluate(LOW_BITRATE)
    assert list(low) == [K.LOW_VIDEO_BITRATE]
    assert low[K.LOW_VIDEO_BITRATE].message == "video bitrate 320 kbps is below 500 kbps: check your upload speed"
    assert low[K.LOW_VIDEO_BITRATE].severity is AlertSeverity.WARNING
    poor = evaluate(dataclasses.replace(GOOD, status=HealthStatus.POOR, drift_deviation_ms=-1800.0))
    assert list(poor) == [K.STREAM_DRIFT] and "1.8 s" in poor[K.STREAM_DRIFT].message
    many = evaluate(
        dataclasses.replace(
            GOOD, frame_rate=12.0, keyframe_interval=10.0, dropped_frames=7.5, packet_loss=3.0, rtt_ms=450.0
        )
    )
    assert set(many) == {K.LOW_FRAME_RATE, K.KEYFRAME_INTERVAL, K.DROPPED_FRAMES, K.PACKET_LOSS, K.HIGH_RTT}
    assert many[K.KEYFRAME_INTERVAL].severity is AlertSeverity.INFO and many[K.HIGH_RTT].severity is AlertSeverity.INFO
    assert many[K.LOW_FRAME_RATE].message.startswith("frame rate 12 fps is below 20 fps")
    silent = evaluate(
        dataclasses.replace(GOOD, media_gap=7.2, video_bitrate=0, frame_rate=0.0, status=HealthStatus.POOR)
    )
    assert list(silent) == [K.NO_MEDIA], "while nothing arrives, only NO_MEDIA (the rest merely echo it)"
    assert silent[K.NO_MEDIA].severity is AlertSeverity.CRITICAL
    audio_only = dataclasses.replace(GOOD, codec=None, video_bitrate=0, frame_rate=0.0, keyframe_interval=None)
    assert evaluate(audio_only) == {}
    unknown = HealthSample(status=HealthStatus.UNKNOWN, sampled_at=T0)
    assert evaluate(unknown) == {}


def test_thresholds_override_and_validate() -> None:
    custom = AlertThresholds().with_overrides({"min_video_bitrate": 200_000, "bogus": 1, "raise_after": None})
    assert custom.min_video_bitrate == 200_000 and custom.raise_after == 2
    assert custom.overrides() == {"min_video_bitrate": 200_000}
    assert evaluate(LOW_BITRATE, custom) == {}
    assert validate_changes({"min_frame_rate": 25, "drift_alert": False, "clear_after": None}) == {
        "min_frame_rate": 25.0, "drift_alert": False, "clear_after": None,
    }  # fmt: skip
    for bad, field in [({"raise_after": 0}, "raiseAfter"), ({"max_packet_loss": 101}, "maxPacketLoss"),
                       ({"raise_after": 2.5}, "raiseAfter"), ({"drift_alert": 1}, "driftAlert"),
                       ({"min_frame_rate": True}, "minFrameRate")]:  # fmt: skip
        with pytest.raises(ValidationFailed) as error:
            validate_changes(bad)
        assert error.value.field == field


def test_a_single_bad_sample_raises_nothing_and_alternating_samples_never_flap() -> None:
    hysteresis = Hysteresis()
    assert steps(hysteresis, [GOOD, LOW_BITRATE, GOOD, LOW_BITRATE, GOOD, LOW_BITRATE, GOOD]) == [""] * 7
    assert hysteresis.active == {}


def test_raised_once_after_n_and_cleared_after_m() -> None:
    hysteresis = Hysteresis()
    log = steps(hysteresis, [LOW_BITRATE, LOW_BITRATE, LOW_BITRATE, LOW_BITRATE, GOOD, LOW_BITRATE, GOOD, GOOD, GOOD])
    assert log == ["", "raise:LOW_VIDEO_BITRATE", "", "", "", "", "", "clear:LOW_VIDEO_BITRATE", ""]
    assert hysteresis.active == {}


def test_counts_are_per_stream_thresholds() -> None:
    patient = AlertThresholds(raise_after=3, clear_after=1)
    log = steps(Hysteresis(), [LOW_BITRATE, LOW_BITRATE, LOW_BITRATE, GOOD], patient)
    assert log == ["", "", "raise:LOW_VIDEO_BITRATE", "clear:LOW_VIDEO_BITRATE"]


def test_alerts_active_before_are_cleared() -> None:
    hysteresis = Hysteresis({K.NO_MEDIA: "old"})
    assert steps(hysteresis, [GOOD, GOOD]) == ["", "clear:NO_MEDIA"]


# ------------------------------------------------------------------------------------------ with the database


async def owner() -> Principal:
    user = await ensure_user(name=f"owner-{uuid.uuid4().hex[:8]}", roles=[])
    return Principal(user_id=str(user.id), name=user.name, roles=frozenset())


@asynccontextmanager
async def collecting(bus: EventBus, *channels: str) -> AsyncIterator[list[Event]]:
    import asyncio

    received: list[Event] = []

    async def listen(channel: str) -> None:
        delivery = Delivery.GAUGE if channel.endswith(HEALTH) else Delivery.LOSSLESS
        async with bus.subscribe(channel, delivery=delivery) as events:
            async for event in events:
                received.append(event)  # type: ignore[arg-type]

    tasks = [asyncio.create_task(listen(c)) for c in channels]
    await eventually(lambda: all(bus.subscriber_count(c) for c in channels), what="subscribed")
    try:
        yield received
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def at(n: int, sample: HealthSample) -> HealthSample:
    return dataclasses.replace(sample, sampled_at=T0 + timedelta(seconds=5 * n))


async def test_monitor_stores_publishes_and_alerts(deps: Deps) -> None:
    actor = await owner()
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="health"))
    sid = str(stream.id)
    monitor = HealthMonitor(deps.bus)
    alert_channels = (stream_channel(sid, ALERTS), owner_channel(actor.user_id, ALERTS))
    async with collecting(deps.bus, *alert_channels) as alerts_seen:
        for n, sample in enumerate([GOOD, LOW_BITRATE, LOW_BITRATE, LOW_BITRATE]):
            await monitor.record(stream_id=sid, sample=at(n, sample))
        await eventually(lambda: len(alerts_seen) >= 2, what="raised on both channels")
        raised = [e for e in alerts_seen if isinstance(e, AlertRaised)]
        assert len(raised) == 2 and {e.alert_id for e in raised} == {raised[0].alert_id}
        assert raised[0].kind == "LOW_VIDEO_BITRATE" and raised[0].severity == "WARNING"
        assert raised[0].at == at(2, GOOD).sampled_at.isoformat(), "raised at the second bad sample"

        stored = await StreamAlert.get(id=raised[0].alert_id)
        assert stored.cleared_at is None and stored.message.startswith("video bitrate 320 kbps")
        assert [a.id for a in await monitoring.list_alerts(actor=actor, stream_id=sid, active=True)] == [stored.id]

        other = HealthMonitor(deps.bus)  # e.g. the encoder reconnected to another ingest process
        for n, sample in enumerate([GOOD, GOOD], start=4):
            await other.record(stream_id=sid, sample=at(n, sample))
        await eventually(lambda: len(alerts_seen) >= 4, what="cleared on both channels")
        cleared = [e for e in alerts_seen if isinstance(e, AlertCleared)]
        assert {e.alert_id for e in cleared} == {stored_id := str(stored.id)} and len(cleared) == 2
    assert (await StreamAlert.get(id=stored_id)).cleared_at == at(5, GOOD).sampled_at
    assert await monitoring.list_alerts(actor=actor, stream_id=sid, active=True) == []
    assert len(await monitoring.list_alerts(actor=actor, stream_id=sid, active=False)) == 1
    assert await StreamQualityMetric.filter(stream_id=sid).count() == 6
    [state] = await monitoring.health_states([sid])
    assert state.latest == at(5, GOOD)


async def test_health_event_and_close_on_stream_end(deps: Deps) -> None:
    actor = await owner()
    sid = str((await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="h"))).id)
    monitor = HealthMonitor(deps.bus)
    async with collecting(deps.bus, stream_channel(sid, HEALTH), stream_channel(sid, ALERTS)) as seen:
        silent = dataclasses.replace(GOOD, media_gap=9.0)
        for n in range(3):
            await monitor.record(stream_id=sid, sample=at(n, silent))
        await eventually(lambda: any(isinstance(e, AlertRaised) for e in seen), what="NO_MEDIA")
        assert any(isinstance(e, HealthSampled) and e.media_gap == 9.0 and e.encoder == "obs" for e in seen)
        assert await monitor.close_alerts(stream_id=sid) == 1
        await eventually(lambda: any(isinstance(e, AlertCleared) for e in seen), what="cleared at the end")
    assert await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True).count() == 0


async def test_thresholds_are_per_stream_and_owner_only(deps: Deps) -> None:
    actor, intruder = await owner(), await owner()
    sid = str((await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"))).id)
    with pytest.raises(Forbidden):
        await monitoring.set_alert_thresholds(actor=intruder, stream_id=sid, changes={"min_video_bitrate": 1})
    with pytest.raises(Forbidden):
        await monitoring.list_alerts(actor=intruder, stream_id=sid)
    result = await monitoring.set_alert_thresholds(
        actor=actor, stream_id=sid, changes={"min_video_bitrate": 200_000, "raise_after": 1}
    )
    assert (result.min_video_bitrate, result.raise_after, result.min_frame_rate) == (200_000, 1, 20.0)
    monitor = HealthMonitor(deps.bus)
    await monitor.record(stream_id=sid, sample=LOW_BITRATE)
    assert await StreamAlert.filter(stream_id=sid).count() == 0, "320 kbps is fine above a 200 kbps minimum"
    await monitoring.set_alert_thresholds(actor=actor, stream_id=sid, changes={"min_video_bitrate": None})
    await monitor.record(stream_id=sid, sample=LOW_BITRATE)
    assert await StreamAlert.filter(stream_id=sid).count() == 1, "back to 500 kbps, and raise_after 1"
    assert (await StreamHealthState.get(stream_id=sid)).thresholds == {"raise_after": 1}


async def test_purge_keeps_recent_samples(deps: Deps, settings: Settings) -> None:
    actor = await owner()
    sid = str((await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="p"))).id)
    monitor = HealthMonitor(deps.bus)
    now = datetime.now(UTC)
    for age_days in (10, 8, 1, 0):
        await monitor.record(stream_id=sid, sample=dataclasses.replace(GOOD, sampled_at=now - timedelta(days=age_days)))
    assert await monitoring.purge_quality_metrics(older_than=now - timedelta(days=9)) == 1
    assert await purge_samples(1, settings=settings.model_copy(update={"health_retention_days": 7})) == 1, "the job"
    assert len(await monitoring.quality_metrics(stream_id=sid)) == 2
    assert await Stream.filter(id=sid).count() == 1
