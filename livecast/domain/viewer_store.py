"""Where playback beacons are kept between two viewer counts: the ``ViewerStore`` port and its memory store.

Per stream the store keeps

* one state per playback session (keyed by ``sessionId``; a session belongs to the ``viewerId`` of its first
  beacon, later beacons cannot move it to another viewer): last state, last beacon, whether it ever played,
  since when it has been rebuffering, and its accumulated watch and buffering time;
* the *active* sessions: those whose latest beacon counts as watching (``playing``, or ``buffering`` for less
  than :data:`REBUFFER_LIMIT_MS` in a session that has played), scored by that beacon's time;
* the *dirty* sessions: changed since they were last written to the database.

Concurrent viewers (CCV) at ``t`` = distinct viewer ids among active sessions seen at or after ``t - window``.
All times are integer milliseconds since the Unix epoch, given by the caller (an injectable clock). The
memory store serves one process (embedded mode); :mod:`livecast.domain.viewer_store_redis` is the same
contract on Redis, shared by every API and worker process.

Bounds: a session without a beacon for ``session_ttl_ms`` is forgotten (once written to the database); a
stream holds at most ``max_sessions_per_stream`` sessions and the memory store ``max_sessions`` in all: past
them a *new* session is refused with :class:`StoreFull` (sessions already in keep working).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol

REBUFFER_LIMIT_MS = 5 * 60 * 1000
"""A session rebuffering for this long (ms) no longer counts as a viewer (product brief)."""
SESSION_TTL_MS = 3600 * 1000
"""Default: a session without any beacon for this long (ms) is forgotten by the store (once in the database).
Viewers set it to the session token's lifetime plus the window: a forgotten session's token has expired."""
MAX_SESSIONS_PER_STREAM = 50_000
"""Default cap on the sessions one stream holds in the store (``LIVECAST_VIEWER_SESSIONS_PER_STREAM``)."""
MAX_SESSIONS = 200_000
"""Default cap on all sessions of the memory store (``LIVECAST_VIEWER_SESSIONS_MAX``)."""
PRUNE_MS = 1000
"""A stream of the memory store is pruned on write at most this often (ms), and, when the store is full, every
stream at most this often before a new session is refused."""
SEPARATOR = "|"
"""Between viewer id and session id in the Redis store's active set (its Lua scripts split on it); ids cannot
contain it (see ``viewers.ID_PATTERN``)."""


class StoreUnavailable(Exception):
    """The viewer store cannot be reached (e.g. Redis is down); the beacon or count was not applied."""


class StoreFull(Exception):
    """A new session would pass the store's per-stream or total cap; nothing was stored (retry later)."""


class PlayerState(str, Enum):
    PLAYING = "playing"
    PAUSED = "paused"
    BUFFERING = "buffering"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class BeaconData:
    """One validated beacon. ``buffering_ms``: the player's cumulative rebuffering time in this session (ms);
    ``bitrate``: current rendition in bits/s (``None``: unknown); ``errors``: playback errors so far."""

    viewer_id: str
    session_id: str
    state: PlayerState
    buffering_ms: int = 0
    bitrate: int | None = None
    errors: int = 0


@dataclass(frozen=True, slots=True)
class SessionState:
    """A session as the store knows it. Times in ms since the epoch; durations in ms."""

    viewer_id: str
    session_id: str
    state: str
    started_at: int
    last_seen: int
    played: bool = False
    buffering_since: int = 0
    """Start of the current rebuffering (0 when not rebuffering)."""
    watch_ms: int = 0
    """Time in the ``playing`` state, measured between beacons (each gap counted up to the window)."""
    buffering_ms: int = 0
    """``max(player-reported cumulative rebuffering, time measured in the buffering state)``."""
    errors: int = 0
    bitrate: int | None = None


def advance(prev: SessionState | None, beacon: BeaconData, *, now: int, window_ms: int) -> tuple[SessionState, bool]:
    """The session after ``beacon`` at ``now`` and whether it now counts as a viewer.

    A session keeps the viewer id of its first beacon (``prev.viewer_id``): one session token is one viewer,
    whatever ``viewerId`` later beacons claim. The time since the previous beacon (at most ``window_ms``, so a silent tab is not watching) goes to the
    previous state: ``playing`` → watch time, ``buffering`` → buffering time. The Redis store runs the same
    rules in Lua (``viewer_store_redis.BEACON``); the store contract tests hold both to them.
    """
    state = beacon.state.value
    if prev is None:
        prev_state, watch, buffered, started, played, since, errors = None, 0, 0, now, False, 0, 0
    else:
        prev_state, watch, buffered = prev.state, prev.watch_ms, prev.buffering_ms
        started, played, since, errors = prev.started_at, prev.played, prev.buffering_since, prev.errors
        gap = min(max(now - prev.last_seen, 0), window_ms)
        if prev_state == PlayerState.PLAYING.value:
            watch += gap
        elif prev_state == PlayerState.BUFFERING.value:
            buffered += gap
    played = played or state == PlayerState.PLAYING.value
    if state == PlayerState.BUFFERING.value:
        since = since if prev_state == PlayerState.BUFFERING.value and since else now
    else:
        since = 0
    counts = state == PlayerState.PLAYING.value or (
        state == PlayerState.BUFFERING.value and played and now - since < REBUFFER_LIMIT_MS
    )
    bitrate = beacon.bitrate if beacon.bitrate is not None or prev is None else prev.bitrate
    session = SessionState(
        viewer_id=beacon.viewer_id if prev is None else prev.viewer_id, session_id=beacon.session_id, state=state, started_at=started, last_seen=now,
        played=played, buffering_since=since, watch_ms=watch, buffering_ms=max(buffered, beacon.buffering_ms),
        errors=max(errors, beacon.errors), bitrate=bitrate,
    )  # fmt: skip
    return session, counts


class ViewerStore(Protocol):
    """The port. Implementations: :class:`MemoryViewerStore`, ``viewer_store_redis.RedisViewerStore``.

    Methods raise :class:`StoreUnavailable` when the backing store cannot be reached."""

    async def record(self, stream_id: str, beacon: BeaconData, *, now: int, window_ms: int) -> bool:
        """Apply one beacon (see :func:`advance`); mark the session dirty. Returns whether it counts.
        ``StoreFull`` for a new session past a cap (nothing stored)."""

    async def count(self, stream_id: str, *, since: int) -> int:
        """Distinct viewer ids with an active session seen at or after ``since`` (ms); forgets older ones."""

    async def take_dirty(self, stream_id: str, *, limit: int) -> list[SessionState]:
        """Up to ``limit`` sessions changed since they were last taken (each is taken once)."""

    async def put_back(self, stream_id: str, sessions: list[SessionState]) -> None:
        """Mark sessions dirty again (their database write failed)."""

    async def evict(self, *, keep: set[str], finishing: set[str]) -> int:
        """Forget the streams not in ``keep`` (no longer live); one in ``finishing`` (its sessions are being
        written) only once none of its sessions is dirty. Returns how many streams were forgotten. A store whose
        keys expire by themselves (Redis) may do nothing."""

    async def close(self) -> None: ...


@dataclass
class _StreamViewers:
    """One stream's sessions by session id, in order of their latest beacon (a beacon moves its session to the
    end), so the idle ones are at the front; ``active``: counting sessions by session id → time of their
    latest counting beacon, in the same order; ``dirty``: session ids not yet written."""

    sessions: dict[str, SessionState] = field(default_factory=dict)
    active: dict[str, int] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    pruned_at: int = -PRUNE_MS


class MemoryViewerStore:
    """One process's store (embedded mode), bounded: a beacon (at most every :data:`PRUNE_MS` per stream) makes
    its stream forget what expired at the front (stale active entries, written sessions idle for
    ``session_ttl_ms``), so the cost is amortised O(1) and memory does not wait for the next count; new sessions
    past ``max_sessions_per_stream`` or ``max_sessions`` are refused (``StoreFull``)."""

    def __init__(
        self,
        *,
        max_sessions_per_stream: int = MAX_SESSIONS_PER_STREAM,
        max_sessions: int = MAX_SESSIONS,
        session_ttl_ms: int = SESSION_TTL_MS,
    ) -> None:
        self._streams: dict[str, _StreamViewers] = {}
        self.max_sessions_per_stream = max_sessions_per_stream
        self.max_sessions = max_sessions
        self.session_ttl_ms = session_ttl_ms
        self.total = 0
        """Sessions held, all streams."""
        self._pruned_all_at = -PRUNE_MS

    async def record(self, stream_id: str, beacon: BeaconData, *, now: int, window_ms: int) -> bool:
        viewers = self._streams.get(stream_id)
        key = beacon.session_id
        prev = viewers.sessions.pop(key, None) if viewers is not None else None
        if prev is None:
            viewers = self._make_room(stream_id, viewers, now=now, window_ms=window_ms)
            self.total += 1
        assert viewers is not None
        session, counts = advance(prev, beacon, now=now, window_ms=window_ms)
        viewers.sessions[key] = session  # at the end: the most recent beacon
        viewers.active.pop(key, None)
        if counts:
            viewers.active[key] = now
        viewers.dirty.add(key)
        if now - viewers.pruned_at >= PRUNE_MS:
            self._prune(viewers, now=now, window_ms=window_ms)
        return counts

    def _make_room(self, stream_id: str, viewers: _StreamViewers | None, *, now: int, window_ms: int) -> _StreamViewers:
        """The stream's entry, with room for one more session; ``StoreFull`` if there is none."""
        if viewers is not None and len(viewers.sessions) >= self.max_sessions_per_stream:
            self._prune(viewers, now=now, window_ms=window_ms)
            if len(viewers.sessions) >= self.max_sessions_per_stream:
                raise StoreFull(f"this stream has {len(viewers.sessions)} playback sessions, the most allowed")
        if self.total >= self.max_sessions and now - self._pruned_all_at >= PRUNE_MS:
            self._pruned_all_at = now
            for other in list(self._streams.values()):
                self._prune(other, now=now, window_ms=window_ms)
        if self.total >= self.max_sessions:
            raise StoreFull(f"the viewer store holds {self.total} playback sessions, the most allowed")
        if viewers is None:
            viewers = self._streams[stream_id] = _StreamViewers()
        return viewers

    def _prune(self, viewers: _StreamViewers, *, now: int, window_ms: int) -> None:
        """Forget stale active entries and written idle sessions from the front (oldest beacon first)."""
        viewers.pruned_at = now
        active, sessions = viewers.active, viewers.sessions
        while active:
            key = next(iter(active))
            if active[key] >= now - window_ms:
                break
            del active[key]
        while sessions:
            key = next(iter(sessions))
            if sessions[key].last_seen >= now - self.session_ttl_ms or key in viewers.dirty:
                break
            del sessions[key]
            active.pop(key, None)
            self.total -= 1

    async def count(self, stream_id: str, *, since: int) -> int:
        viewers = self._streams.get(stream_id)
        if viewers is None:
            return 0
        for key in [key for key, seen in viewers.active.items() if seen < since]:
            del viewers.active[key]
        for key in [
            k
            for k, s in viewers.sessions.items()
            if s.last_seen < since - self.session_ttl_ms and k not in viewers.dirty
        ]:
            del viewers.sessions[key]
            viewers.active.pop(key, None)
            self.total -= 1
        if not viewers.sessions:
            del self._streams[stream_id]
        return len({viewers.sessions[key].viewer_id for key in viewers.active if key in viewers.sessions})

    async def take_dirty(self, stream_id: str, *, limit: int) -> list[SessionState]:
        viewers = self._streams.get(stream_id)
        if viewers is None:
            return []
        taken: list[SessionState] = []
        while viewers.dirty and len(taken) < limit:
            session = viewers.sessions.get(viewers.dirty.pop())
            if session is not None:
                taken.append(replace(session))
        return taken

    async def put_back(self, stream_id: str, sessions: list[SessionState]) -> None:
        viewers = self._streams.get(stream_id)
        if viewers is None:
            viewers = self._streams[stream_id] = _StreamViewers()
        for session in sessions:
            if session.session_id not in viewers.sessions:
                viewers.sessions[session.session_id] = session
                self.total += 1
            viewers.dirty.add(session.session_id)

    async def evict(self, *, keep: set[str], finishing: set[str]) -> int:
        gone = [s for s, v in self._streams.items() if s not in keep and not (s in finishing and v.dirty)]
        for stream_id in gone:
            self.total -= len(self._streams.pop(stream_id).sessions)
        return len(gone)

    async def close(self) -> None:
        self._streams.clear()
        self.total = 0
