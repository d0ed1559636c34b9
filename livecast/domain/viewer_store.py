"""Where playback beacons are kept between two viewer counts: the ``ViewerStore`` port and its memory store.

Per stream the store keeps

* one state per playback session (``viewerId`` + ``sessionId``): last state, last beacon, whether it ever
  played, since when it has been rebuffering, and its accumulated watch and buffering time;
* the *active* sessions: those whose latest beacon counts as watching (``playing``, or ``buffering`` for less
  than :data:`REBUFFER_LIMIT_MS` in a session that has played), scored by that beacon's time;
* the *dirty* sessions: changed since they were last written to the database.

Concurrent viewers (CCV) at ``t`` = distinct viewer ids among active sessions seen at or after ``t - window``.
All times are integer milliseconds since the Unix epoch, given by the caller (an injectable clock). The
memory store serves one process (embedded mode); :mod:`livecast.domain.viewer_store_redis` is the same
contract on Redis, shared by every API and worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Protocol

REBUFFER_LIMIT_MS = 5 * 60 * 1000
"""A session rebuffering for this long (ms) no longer counts as a viewer (product brief)."""
SESSION_TTL_MS = 3600 * 1000
"""A session without any beacon for this long (ms) is forgotten by the store (already in the database)."""
SEPARATOR = "|"
"""Between viewer id and session id in keys; ids cannot contain it (see ``viewers.ID_PATTERN``)."""


class StoreUnavailable(Exception):
    """The viewer store cannot be reached (e.g. Redis is down); the beacon or count was not applied."""


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

    @property
    def key(self) -> str:
        return f"{self.viewer_id}{SEPARATOR}{self.session_id}"


def advance(prev: SessionState | None, beacon: BeaconData, *, now: int, window_ms: int) -> tuple[SessionState, bool]:
    """The session after ``beacon`` at ``now`` and whether it now counts as a viewer.

    The time since the previous beacon (at most ``window_ms``, so a silent tab is not watching) goes to the
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
        viewer_id=beacon.viewer_id, session_id=beacon.session_id, state=state, started_at=started, last_seen=now,
        played=played, buffering_since=since, watch_ms=watch, buffering_ms=max(buffered, beacon.buffering_ms),
        errors=max(errors, beacon.errors), bitrate=bitrate,
    )  # fmt: skip
    return session, counts


class ViewerStore(Protocol):
    """The port. Implementations: :class:`MemoryViewerStore`, ``viewer_store_redis.RedisViewerStore``.

    Methods raise :class:`StoreUnavailable` when the backing store cannot be reached."""

    async def record(self, stream_id: str, beacon: BeaconData, *, now: int, window_ms: int) -> bool:
        """Apply one beacon (see :func:`advance`); mark the session dirty. Returns whether it counts."""

    async def count(self, stream_id: str, *, since: int) -> int:
        """Distinct viewer ids with an active session seen at or after ``since`` (ms); forgets older ones."""

    async def take_dirty(self, stream_id: str, *, limit: int) -> list[SessionState]:
        """Up to ``limit`` sessions changed since they were last taken (each is taken once)."""

    async def put_back(self, stream_id: str, sessions: list[SessionState]) -> None:
        """Mark sessions dirty again (their database write failed)."""

    async def close(self) -> None: ...


@dataclass
class _StreamViewers:
    sessions: dict[str, SessionState]
    active: dict[str, int]
    dirty: set[str]


class MemoryViewerStore:
    """One process's store (embedded mode). Forgets sessions idle for :data:`SESSION_TTL_MS`."""

    def __init__(self) -> None:
        self._streams: dict[str, _StreamViewers] = {}

    def _of(self, stream_id: str) -> _StreamViewers:
        found = self._streams.get(stream_id)
        if found is None:
            found = self._streams[stream_id] = _StreamViewers({}, {}, set())
        return found

    async def record(self, stream_id: str, beacon: BeaconData, *, now: int, window_ms: int) -> bool:
        viewers = self._of(stream_id)
        key = f"{beacon.viewer_id}{SEPARATOR}{beacon.session_id}"
        session, counts = advance(viewers.sessions.get(key), beacon, now=now, window_ms=window_ms)
        viewers.sessions[key] = session
        if counts:
            viewers.active[key] = now
        else:
            viewers.active.pop(key, None)
        viewers.dirty.add(key)
        return counts

    async def count(self, stream_id: str, *, since: int) -> int:
        viewers = self._streams.get(stream_id)
        if viewers is None:
            return 0
        stale = [key for key, seen in viewers.active.items() if seen < since]
        for key in stale:
            del viewers.active[key]
        idle = [k for k, s in viewers.sessions.items() if s.last_seen < since - SESSION_TTL_MS and k not in viewers.dirty]
        for key in idle:
            del viewers.sessions[key]
        if not viewers.sessions:
            del self._streams[stream_id]
        return len({key.split(SEPARATOR, 1)[0] for key in viewers.active})

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
        viewers = self._of(stream_id)
        for session in sessions:
            viewers.sessions.setdefault(session.key, session)
            viewers.dirty.add(session.key)

    async def close(self) -> None:
        self._streams.clear()
