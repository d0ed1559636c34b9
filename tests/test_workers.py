"""Background jobs: the schedule rules on the domain, the embedded (in-memory taskiq) jobs inside one process,
and two real ``livecast worker`` processes on one Redis (the ``redis_url`` fixture) and the test database.

Timing: nothing asserts that a job ran by a deadline shorter than a generous ``eventually`` timeout; what is
asserted about time are lower bounds (a reminder is never early, a stream is never cancelled inside its grace
period), which hold however slow the machine is.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from livecast.bus import create_bus
from livecast.domain import encoder, schedule, streams
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.bus import EventBus
from livecast.domain.deps import Deps
from livecast.domain.events import SCHEDULE, STATUS, Event, StreamReminder, StreamStatusChanged, owner_channel
from livecast.domain.models import ReminderKind, Stream, StreamStatus
from livecast.domain.validation import StreamFields
from livecast.runtime import running
from livecast.settings import Settings
from livecast.workers import lifecycle as lifecycle_jobs
from livecast.workers import schedule as schedule_jobs
from livecast.workers.journal import JobRun, Journal, RedisJournal
from livecast.workers.scheduler import RedisClaims
from tests.conftest import TEST_SECRET, _truncate
from tests.helpers.processes import LivecastProcess, livecast_processes
from tests.helpers.waiting import eventually

S, K = StreamStatus, ReminderKind
LEAD, GRACE = 600, 3600


async def owner(name: str = "owner") -> Principal:
    user = await ensure_user(name=f"{name}-{uuid.uuid4().hex[:8]}", roles=[])
    return Principal(user_id=str(user.id), name=user.name, roles=frozenset())


async def scheduled(deps: Deps, actor: Principal, at: datetime, **fields: object) -> Stream:
    return await streams.create_stream(
        deps=deps, actor=actor, fields=StreamFields(title="t", scheduled_at=at, **fields)
    )


async def go_live(deps: Deps, stream: Stream) -> None:
    await encoder.encoder_connected(deps=deps, stream_id=str(stream.id))
    await encoder.media_ready(deps=deps, stream_id=str(stream.id))


@asynccontextmanager
async def collecting(bus: EventBus, channels: list[str], redis: Redis | None = None) -> AsyncIterator[list[Event]]:
    """Events published on ``channels`` (in arrival order) while the block runs."""
    got: list[Event] = []
    async with AsyncExitStack() as stack:
        for channel in channels:
            events = await stack.enter_async_context(bus.subscribe(channel))

            async def pump(events=events) -> None:
                async for item in events:
                    if isinstance(item, Event):
                        got.append(item)

            task = asyncio.create_task(pump())
            stack.callback(task.cancel)
            if redis is not None:  # SUBSCRIBE is acknowledged asynchronously
                await eventually(lambda ch=channel: _subscribed(redis, ch), timeout=10, what=f"SUBSCRIBE {channel}")
        yield got


async def _subscribed(redis: Redis, channel: str) -> bool:
    return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) >= 1


def reminders(events: list[Event], stream: Stream) -> list[StreamReminder]:
    return [e for e in events if isinstance(e, StreamReminder) and e.stream_id == str(stream.id)]


def statuses(events: list[Event], stream: Stream) -> list[StreamStatusChanged]:
    return [e for e in events if isinstance(e, StreamStatusChanged) and e.stream_id == str(stream.id)]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- the rules, on the domain, with an explicit clock ------------------------------------------------------------


async def test_reminders_follow_their_windows_and_are_sent_once(deps: Deps) -> None:
    t = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    actor = await owner()
    stream = await scheduled(deps, actor, t)
    sid = str(stream.id)

    async def due(now: datetime) -> schedule.Due:
        return await schedule.due(lead_seconds=LEAD, grace_seconds=GRACE, now=now)

    async def send(kind: ReminderKind, now: datetime) -> StreamReminder | None:
        return await schedule.send_reminder(
            deps=deps, stream_id=sid, kind=kind, lead_seconds=LEAD, grace_seconds=GRACE, now=now
        )

    assert await due(t - timedelta(seconds=LEAD + 1)) == schedule.Due(reminders=[], overdue=[])
    assert await send(K.STARTS_SOON, t - timedelta(seconds=LEAD + 1)) is None, "too early"
    soon = t - timedelta(seconds=LEAD - 1)
    assert (await due(soon)).reminders == [(sid, K.STARTS_SOON)]
    assert await send(K.STARTING, soon) is None, "STARTING before scheduledAt"
    async with collecting(deps.bus, [owner_channel(actor.user_id, SCHEDULE)]) as events:
        sent = await asyncio.gather(*(send(K.STARTS_SOON, soon) for _ in range(5)))
        assert sum(e is not None for e in sent) == 1, "five concurrent sends, one reminder"
        assert (await due(soon)).reminders == []
        starting = await send(K.STARTING, t + timedelta(seconds=1))
        assert starting is not None and await send(K.STARTING, t + timedelta(seconds=2)) is None
        await eventually(lambda: len(events) == 2, timeout=5)
    assert [(e.kind, at(e.scheduled_at)) for e in reminders(events, stream)] == [("STARTS_SOON", t), ("STARTING", t)]
    assert (await due(t + timedelta(seconds=GRACE - 1))) == schedule.Due(reminders=[], overdue=[])


async def test_auto_cancel_after_the_grace_period_only(deps: Deps) -> None:
    t = datetime.now(UTC) - timedelta(seconds=10)
    actor = await owner()
    waiting, live = await scheduled(deps, actor, t), await scheduled(deps, actor, t)
    await go_live(deps, live)
    inside, after = t + timedelta(seconds=GRACE - 1), t + timedelta(seconds=GRACE)
    assert (await schedule.due(lead_seconds=LEAD, grace_seconds=GRACE, now=inside)).overdue == []
    assert (
        await schedule.cancel_if_not_started(deps=deps, stream_id=str(waiting.id), grace_seconds=GRACE, now=inside)
        is None
    )
    assert (await schedule.due(lead_seconds=LEAD, grace_seconds=GRACE, now=after)).overdue == [str(waiting.id)]
    async with collecting(deps.bus, [owner_channel(actor.user_id, STATUS)]) as events:
        results = await asyncio.gather(
            *(
                schedule.cancel_if_not_started(deps=deps, stream_id=str(s.id), grace_seconds=GRACE, now=after)
                for s in (waiting, waiting, live)
            )
        )
        await eventually(lambda: statuses(events, waiting), timeout=5)
    assert [r is not None for r in results].count(True) == 1
    assert [(e.status, e.reason) for e in statuses(events, waiting)] == [("CANCELLED", schedule.NOT_STARTED)]
    assert (await Stream.get(id=waiting.id)).status is S.CANCELLED
    assert (await Stream.get(id=live.id)).status is S.LIVE


async def test_a_late_stream_gets_only_starting_and_a_reschedule_resets_reminders(deps: Deps) -> None:
    now = datetime.now(UTC)
    actor = await owner()
    late = await scheduled(deps, actor, now - timedelta(seconds=5))
    assert (await schedule.due(lead_seconds=LEAD, grace_seconds=GRACE, now=now)).reminders == [
        (str(late.id), K.STARTING)
    ]
    soon = await scheduled(deps, actor, now + timedelta(seconds=60))
    kw = {"deps": deps, "stream_id": str(soon.id), "kind": K.STARTS_SOON, "lead_seconds": LEAD, "grace_seconds": GRACE}
    assert await schedule.send_reminder(**kw, now=now) is not None
    assert await schedule.send_reminder(**kw, now=now) is None
    later = now + timedelta(days=2)
    await streams.update_stream(deps=deps, actor=actor, stream_id=str(soon.id), fields=StreamFields(scheduled_at=later))
    assert await schedule.send_reminder(**kw, now=now) is None, "not due at the new time yet"
    event = await schedule.send_reminder(**kw, now=later - timedelta(seconds=60))
    assert event is not None and at(event.scheduled_at) == later


# -- embedded: taskiq's in-memory broker inside the serving process ----------------------------------------------


async def test_embedded_jobs_remind_cancel_and_end_on_time(settings: Settings) -> None:
    lead, grace = 3, 2  # the STARTS_SOON window (3 s) holds six checks
    quick = settings.model_copy(
        update={
            "schedule_check_seconds": 0.5,
            "lifecycle_check_seconds": 0.5,
            "reminder_lead_seconds": lead,
            "scheduled_grace_seconds": grace,
        }
    )
    async with running(quick, ingest=False, workers=True) as runtime:
        await _truncate()
        deps, actor = runtime.deps, await owner()
        start = datetime.now(UTC) + timedelta(seconds=6)
        waiting, started = await scheduled(deps, actor, start), await scheduled(deps, actor, start)
        overlong = await streams.create_stream(
            deps=deps, actor=actor, fields=StreamFields(title="long", max_continuous_duration=60)
        )
        channels = [owner_channel(actor.user_id, SCHEDULE), owner_channel(actor.user_id, STATUS)]
        async with collecting(deps.bus, channels) as events:
            await go_live(deps, started)
            await go_live(deps, overlong)
            await Stream.filter(id=overlong.id).update(started_at=datetime.now(UTC) - timedelta(seconds=61))
            await eventually(lambda: Stream.exists(id=overlong.id, status=S.ENDED), timeout=30, what="max duration")
            await eventually(lambda: Stream.exists(id=waiting.id, status=S.CANCELLED), timeout=60, what="auto-cancel")
            cancelled_at = datetime.now(UTC).timestamp()
            assert runtime.jobs is not None
            journal = runtime.jobs.journal
            await eventually(lambda: at_least(runs_after(journal, cancelled_at), 3), timeout=30, what="3 more checks")
        assert [e.kind for e in reminders(events, waiting)] == ["STARTS_SOON", "STARTING"], "each once, in order"
        soon, now = reminders(events, waiting)
        assert start - timedelta(seconds=lead) <= at(soon.at) < start <= at(now.at)
        cancel = statuses(events, waiting)
        assert [(e.status, e.reason) for e in cancel] == [("CANCELLED", schedule.NOT_STARTED)]
        assert at(cancel[0].at) >= start + timedelta(seconds=grace), "never inside the grace period"
        assert reminders(events, started) == [] and (await Stream.get(id=started.id)).status is S.LIVE
        assert [e.reason for e in statuses(events, overlong)][-1] == "max continuous duration reached"


async def test_embedded_jobs_end_a_stream_past_its_stored_reconnect_deadline(settings: Settings) -> None:
    """No ingest runs here (its timer is gone, as after a crash): only the job can end the stream."""
    quick = settings.model_copy(update={"lifecycle_check_seconds": 0.5})
    async with running(quick, ingest=False, workers=True) as runtime:
        await _truncate()
        deps, actor = runtime.deps, await owner()
        async with collecting(deps.bus, [owner_channel(actor.user_id, STATUS)]) as events:
            dropped, deadline = await reconnecting(deps, actor, deadline_in=timedelta(seconds=2))
            waiting, _ = await reconnecting(deps, actor, deadline_in=timedelta(minutes=5))
            await eventually(lambda: Stream.exists(id=dropped.id, status=S.ENDED), timeout=30, what="deadline job")
        assert [(e.status, e.reason) for e in statuses(events, dropped)][-1] == ("ENDED", "reconnect window passed")
        assert at(statuses(events, dropped)[-1].at) >= deadline, "never before the stored deadline"
        assert (await Stream.get(id=waiting.id)).status is S.RECONNECTING


async def reconnecting(deps: Deps, actor: Principal, *, deadline_in: timedelta) -> tuple[Stream, datetime]:
    """A live stream whose encoder dropped, and its stored deadline, ``deadline_in`` from now."""
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="dropped"))
    await go_live(deps, stream)
    await encoder.encoder_disconnected(deps=deps, stream_id=str(stream.id))
    deadline = datetime.now(UTC) + deadline_in
    await Stream.filter(id=stream.id).update(reconnect_deadline=deadline)
    return stream, deadline


async def runs_after(journal: Journal, after: float, task: str = schedule_jobs.CHECK) -> set[str]:
    """Task ids of ``task`` runs that ended after ``after`` (Unix seconds)."""
    return {r.task_id for r in await journal.runs() if r.task == task and r.at > after}


async def at_least(ids: Awaitable[set[str]], n: int) -> bool:
    return len(await ids) >= n


# -- distributed: two `livecast worker` processes on one Redis ---------------------------------------------------


async def test_redis_claims_have_one_winner_per_slot(redis_url: str) -> None:
    prefix = f"livecast-test-{uuid.uuid4().hex[:10]}"
    redis = Redis.from_url(redis_url)
    try:
        a, b = (RedisClaims(redis, prefix=prefix, owner=name) for name in ("a", "b"))
        for slot in range(5):
            won = await asyncio.gather(*(c.claim("job", slot, ttl=5) for c in (a, b, a, b)))
            assert won.count(True) == 1
        assert 0 < await redis.pttl(a.key("job", 0)) <= 5000
    finally:
        await _drop(redis, prefix)
        await redis.aclose()


@dataclass
class Workers:
    prefix: str
    redis: Redis
    journal: RedisJournal
    processes: list[LivecastProcess]


@pytest.fixture(scope="module")
async def workers(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Workers]:
    """Two ``livecast worker`` processes: periods of 1 s, reminders 4 s ahead, a 3 s grace period."""
    tmp: Path = tmp_path_factory.mktemp("workers")
    prefix = f"livecast-test-{uuid.uuid4().hex[:10]}"
    env = {
        "LIVECAST_DATABASE_URL": database_url,
        "LIVECAST_BUS_URL": redis_url,
        "LIVECAST_JOBS_URL": redis_url,
        "LIVECAST_JOBS_PREFIX": prefix,
        "LIVECAST_SECRET_KEY": TEST_SECRET,
        "LIVECAST_DATA_DIR": str(tmp / "data"),
        "LIVECAST_LIFECYCLE_CHECK_SECONDS": "1",
        "LIVECAST_SCHEDULE_CHECK_SECONDS": "1",
        "LIVECAST_REMINDER_LEAD_SECONDS": "4",
        "LIVECAST_SCHEDULED_GRACE_SECONDS": "3",
        "LIVECAST_LOG_LEVEL": "INFO",
    }
    redis = Redis.from_url(redis_url)
    try:
        async with livecast_processes() as started:
            for n in (1, 2):
                started.append(await LivecastProcess("worker", env, tmp / f"worker{n}.log").start())
            for process in started:
                await eventually(lambda p=process: _ready(p), timeout=60, what="livecast worker to start")
            yield Workers(prefix, redis, RedisJournal(redis, prefix=prefix, worker="test"), started)
            for process in started:
                assert await process.stop() == 0, f"unclean stop:\n{process.output()}"
                assert "Traceback" not in process.output(), process.output()
    finally:
        await _drop(redis, prefix)
        await redis.aclose()


def _ready(process: LivecastProcess) -> bool:
    assert process.running(), f"livecast worker exited:\n{process.output()}"
    return "livecast worker" in process.output() and "ready" in process.output()


async def _drop(redis: Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


async def test_a_periodic_job_runs_once_per_period_across_two_workers(workers: Workers) -> None:
    async def runs() -> list[JobRun]:
        return [r for r in await workers.journal.runs() if r.task == lifecycle_jobs.MAX_DURATION]

    await eventually(lambda: at_least(runs_after(workers.journal, 0, lifecycle_jobs.MAX_DURATION), 10), timeout=60)
    done = await runs()
    per_slot = Counter(r.task_id for r in done)
    assert per_slot and max(per_slot.values()) == 1, f"a period ran twice: {per_slot.most_common(3)}"
    slots = sorted(int(task_id.rsplit(":", 1)[1]) for task_id in per_slot)
    assert len(slots) >= (slots[-1] - slots[0] + 1) // 2, f"periods missing: {slots}"
    assert len({r.worker for r in done}) == 2, "the queue hands jobs to both workers"
    assert all(r.ok for r in done)


async def test_workers_remind_cancel_and_end_streams(workers: Workers, deps: Deps, redis_url: str) -> None:
    bus = create_bus(redis_url)
    await bus.connect()
    try:
        actor = await owner()
        start = datetime.now(UTC) + timedelta(seconds=8)
        waiting = await scheduled(deps, actor, start)
        overlong = await streams.create_stream(
            deps=deps, actor=actor, fields=StreamFields(title="long", max_continuous_duration=60)
        )
        channels = [owner_channel(actor.user_id, SCHEDULE), owner_channel(actor.user_id, STATUS)]
        async with collecting(bus, channels, workers.redis) as events:
            await go_live(deps, overlong)  # no ingest process at all: only a worker can end it
            await Stream.filter(id=overlong.id).update(started_at=datetime.now(UTC) - timedelta(seconds=61))
            dropped, _ = await reconnecting(deps, actor, deadline_in=timedelta(seconds=1))
            await eventually(lambda: Stream.exists(id=overlong.id, status=S.ENDED), timeout=60, what="max duration")
            await eventually(lambda: Stream.exists(id=dropped.id, status=S.ENDED), timeout=60, what="deadline job")
            await eventually(lambda: Stream.exists(id=waiting.id, status=S.CANCELLED), timeout=60, what="auto-cancel")
            await eventually(lambda: len(reminders(events, waiting)) >= 2 and statuses(events, waiting), timeout=30)
            after = datetime.now(UTC).timestamp()
            await eventually(lambda: at_least(runs_after(workers.journal, after), 3), timeout=30, what="3 more checks")
        assert [e.kind for e in reminders(events, waiting)] == ["STARTS_SOON", "STARTING"], "each once, two workers"
        soon, now = reminders(events, waiting)
        assert start - timedelta(seconds=4) <= at(soon.at) < start <= at(now.at)
        assert [(e.status, e.reason) for e in statuses(events, waiting)] == [("CANCELLED", schedule.NOT_STARTED)]
        assert at(statuses(events, waiting)[0].at) >= start + timedelta(seconds=3)
        assert [(e.status, e.reason) for e in statuses(events, overlong)][-1] == (
            "ENDED",
            "max continuous duration reached",
        )
        assert [(e.status, e.reason) for e in statuses(events, dropped)][-1] == ("ENDED", "reconnect window passed")
        row = await Stream.get(id=waiting.id)
        assert row.starts_soon_reminded_at is not None and row.starting_reminded_at is not None
    finally:
        await bus.disconnect()
