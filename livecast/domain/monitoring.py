"""Health commands and queries: record a sample (store, publish, alert), clear alerts, thresholds, history.

:class:`HealthMonitor` is the one path a :class:`~livecast.domain.health.HealthSample` takes, whichever
provider measured it: stored in ``stream_quality_metrics``, kept as the stream's latest health, published as
``HealthSampled`` (topic ``health``), and checked against the stream's thresholds; alerts that the hysteresis
raises or clears are stored in ``stream_alerts`` and then published as ``AlertRaised``/``AlertCleared`` on the
stream's and the owner's ``alerts`` topic. The hysteresis counts are durable: ``stream_health.hysteresis``,
read and written with the sample in one transaction under a row lock, so samples of one stream may come from
any process (the Mux health job runs on whichever worker takes it) and an alert is still raised once after
``raise_after`` bad samples and cleared once after ``clear_after`` good ones. Active alerts are read from
``stream_alerts`` at each sample, so alerts raised before a reconnect or by another process are cleared too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from livecast.domain import streams
from livecast.domain.alert_records import alert_channels, clear_alert
from livecast.domain.alerts import (
    DEFAULT_THRESHOLDS,
    HEALTH_KINDS,
    AlertKind,
    AlertThresholds,
    Hysteresis,
    evaluate,
    validate_changes,
)
from livecast.domain.auth import Principal
from livecast.domain.bus import EventBus
from livecast.domain.errors import NotFound, ValidationFailed
from livecast.domain.events import HEALTH, AlertCleared, AlertRaised, Event, HealthSampled, stream_channel
from livecast.domain.health import HealthSample
from livecast.domain.health_models import StreamAlert, StreamHealthState, StreamQualityMetric
from livecast.domain.models import Stream

MAX_ALERTS_PAGE = 200
HEALTH_KIND_NAMES = frozenset(kind.value for kind in HEALTH_KINDS)


@dataclass(frozen=True)
class HealthState:
    """What is known about a stream's health: its latest sample (``None`` before the first) and thresholds."""

    latest: HealthSample | None
    thresholds: AlertThresholds


class HealthMonitor:
    """Records health samples of streams, with their alert hysteresis (see the module).

    Any number of monitors (processes) may record samples of one stream: the counts are in the stream's
    ``stream_health`` row, read and written under a row lock (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite
    serializes transactions), so an alert is raised once and cleared once whichever process sees the sample.
    """

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._owners: dict[str, str] = {}
        """Stream id → owner id (never changes; saves a query per sample)."""
        self._restart: set[str] = set()
        """Streams whose counts restart at their next sample here (:meth:`forget`)."""

    async def _owner(self, stream_id: str) -> str:
        owner_id = self._owners.get(stream_id)
        if owner_id is None:
            stream = await Stream.get_or_none(id=stream_id)
            if stream is None:
                raise NotFound(f"stream {stream_id} does not exist")
            owner_id = self._owners[stream_id] = str(stream.owner_id)
        return owner_id

    async def record(self, *, stream_id: str, sample: HealthSample) -> None:
        """Store ``sample``, publish it, and raise or clear alerts. Raises ``NotFound`` for an unknown stream.

        One transaction: the sample row, the alerts raised or cleared, the latest sample and the counts; the
        events (``HealthSampled``, then ``AlertCleared``/``AlertRaised``) are published after it commits.
        """
        owner_id = await self._owner(stream_id)
        for _ in range(2):
            async with in_transaction() as conn:
                state = await StreamHealthState.filter(stream_id=stream_id).select_for_update().using_db(conn).first()
                if state is not None:
                    events = await self._record_locked(conn, state, owner_id, sample)
                    break
            await _state_row(stream_id)  # the stream's first sample: create its row, then lock it
        else:
            raise NotFound(f"stream {stream_id} does not exist")
        await self.bus.publish([stream_channel(stream_id, HEALTH)], _event(stream_id, owner_id, sample))
        for event in events:
            await self.bus.publish(alert_channels(stream_id, owner_id), event)

    async def _record_locked(
        self, conn: BaseDBAsyncClient, state: StreamHealthState, owner_id: str, sample: HealthSample
    ) -> list[Event]:
        stream_id, at = str(state.stream_id), sample.sampled_at
        active = await StreamAlert.filter(stream_id=stream_id, cleared_at__isnull=True).using_db(conn)
        by_kind = {AlertKind(a.kind): str(a.id) for a in active if a.kind in HEALTH_KIND_NAMES}
        restart = stream_id in self._restart
        hysteresis = Hysteresis.restore(by_kind, None if restart else state.hysteresis)
        await StreamQualityMetric.create(using_db=conn, stream_id=stream_id, **_columns(sample))
        thresholds = DEFAULT_THRESHOLDS.with_overrides(state.thresholds or {})
        to_raise, to_clear = hysteresis.step(
            evaluate(sample, thresholds), raise_after=thresholds.raise_after, clear_after=thresholds.clear_after
        )
        events: list[Event] = []
        for kind, alert_id in to_clear:
            if await StreamAlert.filter(id=alert_id, cleared_at__isnull=True).using_db(conn).update(cleared_at=at):
                cleared = AlertCleared(
                    alert_id=alert_id, stream_id=stream_id, owner_id=owner_id, kind=kind.value, at=at.isoformat()
                )
                events.append(cleared)
        for finding in to_raise:
            alert = await StreamAlert.create(
                using_db=conn, stream_id=stream_id, kind=finding.kind.value, severity=finding.severity,
                message=finding.message[:500], raised_at=at,
            )  # fmt: skip
            hysteresis.opened(finding.kind, str(alert.id))
            events.append(AlertRaised(
                alert_id=str(alert.id), stream_id=stream_id, owner_id=owner_id, kind=finding.kind.value,
                severity=finding.severity.value, message=alert.message, at=at.isoformat(),
            ))  # fmt: skip
        await (
            StreamHealthState.filter(stream_id=stream_id)
            .using_db(conn)
            .update(latest_sample=sample.to_dict(), hysteresis=hysteresis.counts(), updated_at=datetime.now(UTC))
        )
        self._restart.discard(stream_id)
        return events

    def forget(self, stream_id: str) -> None:
        """Stop watching (the publish is over): the counts restart at this monitor's next sample of the stream
        (active alerts stay, and are still cleared after ``clear_after`` good samples)."""
        self._owners.pop(stream_id, None)
        self._restart.add(stream_id)

    async def close_alerts(self, *, stream_id: str) -> int:
        """The stream is over: clear its active alerts (publishing ``AlertCleared``) and its counts; returns
        how many alerts were cleared."""
        self._owners.pop(stream_id, None)
        self._restart.discard(stream_id)  # the stored counts are reset below
        stream = await Stream.get_or_none(id=stream_id)
        if stream is None:
            return 0
        await StreamHealthState.filter(stream_id=stream_id).update(hysteresis=None)
        now, cleared = datetime.now(UTC), 0
        owner_id = str(stream.owner_id)
        for alert in await StreamAlert.filter(stream_id=stream_id, cleared_at__isnull=True):
            cleared += await clear_alert(
                bus=self.bus, stream_id=stream_id, owner_id=owner_id, kind=alert.kind, alert_id=str(alert.id), at=now
            )
        return cleared


def _columns(sample: HealthSample) -> dict[str, object]:
    data = {name: getattr(sample, name) for name in HealthSample.__dataclass_fields__}
    data["codec"] = sample.codec[:64] if sample.codec else sample.codec
    data["encoder"] = sample.encoder[:128] if sample.encoder else sample.encoder
    return data


def _event(stream_id: str, owner_id: str, s: HealthSample) -> HealthSampled:
    return HealthSampled(
        stream_id=stream_id, owner_id=owner_id, status=s.status.value, at=s.sampled_at.isoformat(), **s.measurements()
    )


async def _state_row(stream_id: str) -> StreamHealthState:
    row = await StreamHealthState.get_or_none(stream_id=stream_id)
    if row is None:
        try:
            row = await StreamHealthState.create(stream_id=stream_id)
        except IntegrityError:  # created concurrently (a sample and a thresholds change)
            row = await StreamHealthState.get(stream_id=stream_id)
    return row


async def health_states(stream_ids: list[str]) -> list[HealthState]:
    """Health of each stream, in the order of ``stream_ids`` (one query; a DataLoader batch function)."""
    rows = {str(r.stream_id): r for r in await StreamHealthState.filter(stream_id__in=stream_ids)}
    states = []
    for stream_id in stream_ids:
        row = rows.get(str(stream_id))
        latest = HealthSample.from_dict(row.latest_sample) if row is not None and row.latest_sample else None
        overrides = row.thresholds if row is not None and row.thresholds else {}
        states.append(HealthState(latest=latest, thresholds=DEFAULT_THRESHOLDS.with_overrides(overrides)))
    return states


async def set_alert_thresholds(
    *, actor: Principal | None, stream_id: str, changes: dict[str, object]
) -> AlertThresholds:
    """Override alert thresholds of a stream (owner or admin); a ``None`` value restores the default.

    Returns the thresholds now in force. Raises ``Unauthenticated``, ``NotFound``, ``Forbidden`` or
    ``ValidationFailed`` (a value out of range, or ``clearAfter``/``raiseAfter`` below 1).
    """
    await streams.managed_stream(actor, stream_id)
    clean = validate_changes(changes)
    row = await _state_row(stream_id)
    overrides = dict(row.thresholds or {})
    for name, value in clean.items():
        if value is None:
            overrides.pop(name, None)
        else:
            overrides[name] = value
    effective = DEFAULT_THRESHOLDS.with_overrides(overrides)
    changes = {"thresholds": effective.overrides(), "updated_at": datetime.now(UTC)}
    await StreamHealthState.filter(stream_id=stream_id).update(**changes)
    return effective


async def list_alerts(
    *, actor: Principal | None, stream_id: str, active: bool | None = None, first: int = 50
) -> list[StreamAlert]:
    """A stream's alerts, newest first (owner or admin): all, only active (``True``) or only cleared
    (``False``). ``first`` is 1-200. Raises ``Unauthenticated``, ``NotFound``, ``Forbidden``, ``ValidationFailed``."""
    if not 1 <= first <= MAX_ALERTS_PAGE:
        raise ValidationFailed(f"first must be between 1 and {MAX_ALERTS_PAGE}", field="first")
    await streams.managed_stream(actor, stream_id)
    query = StreamAlert.filter(stream_id=stream_id)
    if active is not None:
        query = query.filter(cleared_at__isnull=active)
    return await query.order_by("-raised_at", "-id").limit(first)


async def quality_metrics(*, stream_id: str, since: datetime | None = None) -> list[StreamQualityMetric]:
    """Stored samples of a stream, oldest first (optionally from ``since`` on)."""
    query = StreamQualityMetric.filter(stream_id=stream_id)
    if since is not None:
        query = query.filter(sampled_at__gte=since)
    return await query.order_by("sampled_at", "id")


async def purge_quality_metrics(*, older_than: datetime) -> int:
    """Delete samples taken before ``older_than`` (the retention job); returns how many."""
    return await StreamQualityMetric.filter(sampled_at__lt=older_than).delete()
