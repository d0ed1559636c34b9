"""The provider webhook inbox: verified events are stored once, then applied in order per stream.

:func:`record` runs in the HTTP request (fast): it resolves the livecast stream the event is about and inserts a
``WebhookEvent`` row. The ``(provider, event_id)`` unique constraint is the deduplication: a concurrent or later
delivery of the same event fails the insert with ``IntegrityError`` and is acknowledged as a duplicate.

:func:`apply_stream` runs in a job: it takes the stream's ``PENDING`` events (and ``FAILED`` ones with attempts
left) in ``occurred_at`` order, ties by receipt, and applies each through the same domain commands
as the mutations (:mod:`livecast.domain.webhook_rules`). An event older than a newer already-applied event of the
same resource (the stream's status, a simulcast target, a LiveKit participant, ...) or an illegal transition is
``SKIPPED`` with the reason in ``outcome`` and changes nothing. An unexpected error marks the event ``FAILED`` and
stops the stream's run there, so later events wait instead of overtaking it; so does an unreachable provider
(``ProviderDown``). The sweep retries it with backoff (:func:`retry_due_at`), :data:`MAX_ATTEMPTS` times.

Out-of-order arrival (events are applied as they arrive, so a newer one may come before older ones): whatever
the arrival order, a stream ends in the same state as with delivery in provider-time order, because

* a skipped event is not skipped for good: when an older event of its resource is applied after it (the older
  one arrived late), the resource's skipped events that are newer than it go back to ``PENDING`` and are applied
  again in time order (:func:`_requeue_skipped`). So a Mux ``idle`` that arrives before the broadcast's
  ``connected``/``active`` is skipped (the stream is still ``SCHEDULED``), then ends the stream once an older
  event has started it, and those older events are then stale;
* an event whose move is final (:func:`livecast.domain.webhook_rules.is_final`: Mux ``idle`` → ``ENDED``) is never
  stale, and a skipped final event is tried again whenever an event of its resource is applied: in time order
  nothing after it could have applied, so it must win over events that are newer but arrived first. This relies
  on what Mux documents ``idle`` to mean: a broadcast finished (the encoder disconnected and the reconnect window
  expired), never a stream that did not broadcast.

Why not re-read the stream from Mux instead: after a broadcast Mux reports ``idle``, exactly as for a stream that
never started, so the API cannot tell "the earlier events are late" from "nothing happened"; the events can.

Ordering with several workers: :class:`StreamLocks` lets one task per stream apply in a process (asyncio locks)
and, on PostgreSQL, one process (``pg_try_advisory_lock`` on a pooled connection held while applying). A run
that finds the stream busy leaves; the holder looks for new events again after releasing, so none is stranded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from livecast.domain import lifecycle, webhook_rules
from livecast.domain.deps import Deps
from livecast.domain.errors import DomainError, ProviderDown, ValidationFailed
from livecast.domain.provider_models import Broadcast, WebhookEvent, WebhookStatus
from livecast.providers.base import ProviderEvent

logger = logging.getLogger(__name__)

W = WebhookStatus
MAX_ATTEMPTS = 8
"""Applying an event that keeps failing is given up (left ``FAILED``) after this many attempts."""
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 3600.0
BATCH = 100


def retry_due_at(row: WebhookEvent) -> datetime:
    """When a ``FAILED`` event may be tried again: receipt + 2 s · 4^(attempts − 1), at most + 1 h (so the
    retries of an event spread over about an hour and a half before it is given up)."""
    delay = min(RETRY_BASE_SECONDS * 4 ** max(row.attempts - 1, 0), RETRY_MAX_SECONDS)
    return row.received_at + timedelta(seconds=delay)


@dataclass(frozen=True)
class Receipt:
    """What :func:`record` did: ``duplicate`` when the event id was stored before (nothing new stored)."""

    id: str
    stream_id: str | None
    status: str
    duplicate: bool


async def record(*, event: ProviderEvent) -> Receipt:
    """Store a verified provider event once; ``SKIPPED`` at once when no livecast stream matches it.

    Raises ``ValidationFailed`` when an id does not fit the inbox (event id > 128, type > 96 characters).
    """
    if len(event.event_id) > 128 or len(event.type) > 96:
        raise ValidationFailed("event id or type too long for the inbox", field="id")
    stream_id, why = await webhook_rules.resolve_stream(event)
    status = W.PENDING if stream_id is not None else W.SKIPPED
    object_id = event.object_id[:128] if event.object_id else None
    try:
        row = await WebhookEvent.create(
            provider=event.provider, event_id=event.event_id, type=event.type, object_id=object_id,
            stream_id=stream_id, occurred_at=event.occurred_at, payload=dict(event.data), status=status,
            outcome=why or "",
        )  # fmt: skip
    except IntegrityError:
        existing = await WebhookEvent.get_or_none(provider=event.provider, event_id=event.event_id)
        if existing is None:  # not the unique constraint (the stream was deleted meanwhile?)
            raise
        stored_for = str(existing.stream_id) if existing.stream_id else None
        return Receipt(str(existing.id), stored_for, existing.status.value, True)
    return Receipt(str(row.id), stream_id, status.value, False)


async def due_streams(*, limit: int = 1000) -> list[str]:
    """Ids of streams with events to apply: ``PENDING``, or ``FAILED`` with attempts left whose retry is due."""
    pending = (
        await WebhookEvent.filter(status=W.PENDING, stream_id__isnull=False)
        .distinct()
        .limit(limit)
        .values_list("stream_id", flat=True)
    )
    now = datetime.now(UTC)
    failed = await WebhookEvent.filter(status=W.FAILED, attempts__lt=MAX_ATTEMPTS, stream_id__isnull=False).limit(limit)
    due = {str(stream_id) for stream_id in pending} | {str(r.stream_id) for r in failed if retry_due_at(r) <= now}
    return sorted(due)


async def active_livekit_streams() -> list[str]:
    """Ids of LiveKit broadcasts' streams that are running (``PREPARING``, ``LIVE``, ``RECONNECTING``)."""
    rows = await Broadcast.filter(stream__status__in=list(lifecycle.ACTIVE)).values_list("stream_id", flat=True)
    return [str(stream_id) for stream_id in rows]


class StreamLocks:
    """Per-stream exclusive application, in this process and (PostgreSQL) across processes.

    ``max_db_holders`` bounds the pooled connections held for advisory locks (Tortoise's asyncpg pool has 5).
    Create one per process (inside its event loop's lifetime) and share it between jobs.
    """

    def __init__(self, *, max_db_holders: int = 2) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._db_slots = asyncio.Semaphore(max_db_holders)

    @asynccontextmanager
    async def hold(self, stream_id: str) -> AsyncIterator[bool]:
        """Yield True while this task alone applies ``stream_id``'s events; False when another process does."""
        lock = self._locks.setdefault(stream_id, asyncio.Lock())
        self._users[stream_id] = self._users.get(stream_id, 0) + 1
        try:
            async with lock:
                client = connections.get("default")
                if client.capabilities.dialect != "postgres":
                    yield True  # SQLite: one process
                    return
                key = int.from_bytes(
                    hashlib.sha256(f"livecast.webhooks:{stream_id}".encode()).digest()[:8], "big", signed=True
                )
                async with self._db_slots, client.acquire_connection() as raw:
                    got = await raw.fetchval("SELECT pg_try_advisory_lock($1)", key)
                    try:
                        yield bool(got)
                    finally:
                        if got:
                            await raw.execute("SELECT pg_advisory_unlock($1)", key)
        finally:
            self._users[stream_id] -= 1
            if not self._users[stream_id]:
                del self._users[stream_id], self._locks[stream_id]


async def apply_stream(*, deps: Deps, stream_id: str, locks: StreamLocks) -> int:
    """Apply the stream's due events in order; returns how many this run handled (applied, skipped or failed).

    Due: ``PENDING``, and ``FAILED`` with attempts left (retried first, since they are older). Leaves at once
    (0) when another process is applying the stream, and after an event failed (the sweep retries it later).
    """
    handled = 0
    while True:
        async with locks.hold(stream_id) as mine:
            if not mine:
                return handled
            count, failed = await _drain(deps, stream_id)
            handled += count
        # events stored while we held the lock may have seen it busy: look again before leaving
        if failed or not await WebhookEvent.filter(stream_id=stream_id, status=W.PENDING).exists():
            return handled


async def _drain(deps: Deps, stream_id: str) -> tuple[int, bool]:
    handled = 0
    while True:
        rows = await _due().filter(stream_id=stream_id).order_by("occurred_at", "received_at").limit(BATCH)
        requeued = False
        for row in rows:
            if row.status is W.FAILED and retry_due_at(row) > datetime.now(UTC):
                return handled, True  # not yet: later events wait for it (order per stream)
            handled += 1
            applied, requeued = await _apply_one(deps, row)
            if not applied:
                return handled, True  # FAILED: later events wait for it
            if requeued:
                break  # skipped events are due again: read the due events again, in time order
        if len(rows) < BATCH and not requeued:
            return handled, False


def _due():
    return WebhookEvent.filter(Q(status=W.PENDING) | Q(status=W.FAILED, attempts__lt=MAX_ATTEMPTS))


async def _apply_one(deps: Deps, row: WebhookEvent) -> tuple[bool, bool]:
    """Apply one event and store the result: ``(False, False)`` when it failed unexpectedly, else
    ``(True, whether skipped events went back to PENDING because this one was applied)``."""
    attempts = row.attempts + 1
    try:
        newer = None if webhook_rules.is_final(row.provider, row.type) else await _newer_applied(row)
        if newer is not None:
            status, outcome = W.SKIPPED, f"stale: {newer} was already applied"
        else:
            status, outcome = W.APPLIED, await webhook_rules.apply(deps, row)
    except ProviderDown as e:  # the provider could not be reached: try again later
        logger.warning("webhook %s %s (%s) not applied yet: %s", row.provider, row.event_id, row.type, e.message)
        await WebhookEvent.filter(id=row.id).update(
            status=W.FAILED, outcome=f"failed: {e.message}"[:2000], attempts=attempts
        )
        return False, False
    except DomainError as e:  # InvalidState (illegal move), NotFound (target gone), ...
        status, outcome = W.SKIPPED, f"not applied: {e.message}"
    except Exception as e:
        logger.exception("webhook %s %s (%s) failed to apply", row.provider, row.event_id, row.type)
        await WebhookEvent.filter(id=row.id).update(status=W.FAILED, outcome=f"failed: {e!r}"[:2000], attempts=attempts)
        return False, False
    now = datetime.now(UTC) if status is W.APPLIED else None
    await WebhookEvent.filter(id=row.id).update(
        status=status, outcome=outcome[:2000], attempts=attempts, applied_at=now
    )
    return True, status is W.APPLIED and await _requeue_skipped(row) > 0


async def _requeue_skipped(applied: WebhookEvent) -> int:
    """After ``applied`` (which may have arrived late): put back to ``PENDING`` the skipped events of its resource
    that are newer than it, and its skipped final events (:func:`webhook_rules.is_final`) of any time; they may
    apply now that the earlier event has. Returns how many. Nothing when ``applied`` itself was final."""
    key = webhook_rules.ordering_key(applied.provider, applied.type, applied.payload)
    if key is None or webhook_rules.is_final(applied.provider, applied.type):
        return 0
    later_or_final = Q(occurred_at__gt=applied.occurred_at) | Q(
        type__in=sorted(webhook_rules.final_types(applied.provider))
    )
    skipped = await WebhookEvent.filter(
        later_or_final, stream_id=applied.stream_id, provider=applied.provider, status=W.SKIPPED
    ).limit(200)
    again = [row.id for row in skipped if webhook_rules.ordering_key(row.provider, row.type, row.payload) == key]
    if again:
        note = (
            f"pending again: {applied.type} {applied.event_id} ({applied.occurred_at.isoformat()}) was applied after it"
        )
        await WebhookEvent.filter(id__in=again, status=W.SKIPPED).update(status=W.PENDING, outcome=note[:2000])
    return len(again)


async def _newer_applied(row: WebhookEvent) -> str | None:
    """The type and id of an applied event of the same resource that happened after ``row``, if any."""
    key = webhook_rules.ordering_key(row.provider, row.type, row.payload)
    if key is None:
        return None
    newer = (
        await WebhookEvent.filter(
            stream_id=row.stream_id, provider=row.provider, status=W.APPLIED, occurred_at__gt=row.occurred_at
        )
        .order_by("-occurred_at")
        .limit(200)
    )
    for other in newer:
        if webhook_rules.ordering_key(other.provider, other.type, other.payload) == key:
            return f"{other.type} {other.event_id} ({other.occurred_at.isoformat()})"
    return None
