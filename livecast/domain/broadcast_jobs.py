"""The periodic LiveKit broadcast check (``livecast.workers.livekit``): egress on demand, room clean-up.

For each broadcast whose room is not deleted yet:

* stream ``LIVE``/``RECONNECTING``: egress starts when the stream has HLS viewers (``viewer_count`` > 0, from
  the viewer count job), or at go-live with ``LIVECAST_LIVEKIT_EGRESS_START=GO_LIVE``. With ``FIRST_VIEWER``
  it stops once viewers stayed at 0 for ``livekit_egress_idle_seconds``. A ``FAILED`` egress is not restarted
  on its own (the alert went out, players use the WebRTC fallback); when a publisher comes back after a
  reconnect (``RECONNECTING`` → ``LIVE``) it may start again.
* stream ``RECONNECTING`` past its ``reconnect_window``: ended (LiveKit has no ingest timer of livecast's).
* stream finished: a running egress is stopped, the room deleted at ``room_delete_at``.

Idempotent; provider failures are logged and retried at the next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from livecast.domain import broadcast_egress as egress
from livecast.domain import lifecycle
from livecast.domain.deps import Deps
from livecast.domain.errors import DomainError
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.provider_models import Broadcast, EgressStatus
from livecast.domain.streams import finish
from livecast.providers.base import ProviderError

logger = logging.getLogger(__name__)

S = StreamStatus


async def check(*, deps: Deps, now: datetime | None = None) -> list[str]:
    """Run one check (see the module); returns ``"<stream id>: <outcome>"`` for each broadcast acted on."""
    now = now or datetime.now(UTC)
    pending = await Broadcast.filter(room_deleted_at__isnull=True)
    if not pending:
        return []
    streams = {str(s.id): s for s in await Stream.filter(id__in=[b.stream_id for b in pending])}
    outcomes = []
    for b in pending:
        stream = streams.get(str(b.stream_id))
        if stream is None:
            continue
        try:
            outcome = await _check_one(deps, b, stream, now)
        except (ProviderError, DomainError) as e:
            outcome = f"failed, retried next run: {e}"
            logger.warning("broadcast %s: %s", b.room_name, outcome)
        if outcome:
            outcomes.append(f"{stream.id}: {outcome}")
    return outcomes


async def _check_one(deps: Deps, b: Broadcast, stream: Stream, now: datetime) -> str | None:
    policy = egress.rooms(deps).policy
    if stream.status in lifecycle.FINISHED:
        return await _clean_up(deps, b, now, policy.room_delete_seconds)
    if stream.status is S.RECONNECTING and stream.status_changed_at is not None:
        if now >= stream.status_changed_at + timedelta(seconds=stream.reconnect_window):
            reason, only_from = "reconnect window passed", frozenset({S.RECONNECTING})
            await finish(deps=deps, stream_id=str(stream.id), reason=reason, only_from=only_from)
            return "reconnect window passed: ENDED"
    if stream.status not in (S.LIVE, S.RECONNECTING):
        return None
    wanted = stream.viewer_count > 0 or (policy.egress_start == "GO_LIVE" and stream.status is S.LIVE)
    if b.egress_status is EgressStatus.IDLE and wanted:
        reason = "first viewer" if stream.viewer_count > 0 else "went live"
        return await egress.start(deps=deps, broadcast=b, reason=reason)
    if b.egress_status not in egress.RUNNING:
        return None
    if stream.viewer_count > 0:
        if b.zero_viewers_since is not None:
            b.zero_viewers_since = None
            await b.save(update_fields=["zero_viewers_since", "updated_at"])
        return None
    if policy.egress_start == "GO_LIVE" and stream.status is S.LIVE:
        return None
    if b.zero_viewers_since is None:
        b.zero_viewers_since = now
        await b.save(update_fields=["zero_viewers_since", "updated_at"])
        return "no viewers: egress idle"
    if now - b.zero_viewers_since >= timedelta(seconds=policy.egress_idle_seconds):
        return await egress.stop(deps=deps, broadcast=b, reason="no viewers")
    return None


async def _clean_up(deps: Deps, b: Broadcast, now: datetime, delay: float) -> str | None:
    outcomes = []
    if b.egress_status in egress.RUNNING:
        outcomes.append(await egress.stop(deps=deps, broadcast=b, reason="stream over"))
    if b.room_delete_at is None:
        b.room_delete_at = now + timedelta(seconds=delay)
        await b.save(update_fields=["room_delete_at", "updated_at"])
    elif now >= b.room_delete_at:
        await egress.rooms(deps).delete_room(b.room_name)
        b.room_deleted_at = now
        await b.save(update_fields=["room_deleted_at", "updated_at"])
        outcomes.append(f"room {b.room_name} deleted")
    return "; ".join(outcomes) or None
