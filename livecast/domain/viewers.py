"""Playback beacons and concurrent viewers (CCV), after the product brief (Mux Data's definition).

A player sends a beacon every ~5 s while it is open (``POST /v1/playback/beacon``). A viewer (``viewerId``,
stable across tabs and devices) counts while at least one of their sessions (``sessionId``, one per player)
sent, within the last ``window`` seconds (15 by default), a beacon in the ``playing`` state, or in the
``buffering`` state after having played and for less than 5 minutes. Paused, ended, never-started and long
rebuffering sessions do not count; a silent one stops counting after the window.

A beacon counts only if it is genuine and its stream is live, checked cheapest first:

1. the client address is under its rate limit (:mod:`livecast.domain.client_limits`), else ``RateLimited``;
2. it carries a playback session token (:mod:`livecast.domain.playback_sessions`) that ``Stream.playback.session``
   issued for this stream and ``sessionId`` and that has not expired, else ``InvalidSession`` /
   ``SessionExpired`` (no database or store access before this point);
3. its stream is ``LIVE`` or ``RECONNECTING`` (status cached per process for :data:`STATUS_TTL` seconds, so the
   database is not queried per beacon and an ended stream stops counting within that time), else ``NotFound``
   or ``InvalidState``;
4. the store has room for a new session (``StoreFull``), or the session is already in it. A session keeps the
   viewer id of its first beacon: one token is one viewer.

Beacons only touch the :class:`~livecast.domain.viewer_store.ViewerStore` (memory, or Redis shared by all
processes); the periodic viewer count (:mod:`livecast.domain.viewer_counts`) turns them into counts, events,
time series and session rows. The clock is injectable so tests can simulate minutes in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from livecast.domain.client_limits import AddressLimit
from livecast.domain.errors import InvalidState, NotFound
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.playback_sessions import MAX_TOKEN_LENGTH, PlaybackSession, SessionSigner
from livecast.domain.viewer_store import (
    MAX_SESSIONS,
    MAX_SESSIONS_PER_STREAM,
    BeaconData,
    MemoryViewerStore,
    PlayerState,
    SessionState,
    ViewerStore,
)

ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
"""Viewer and session ids: 1-128 letters, digits and ``_ . : @ -`` (a UUID fits)."""
BEACON_PATH = "/v1/playback/beacon"
"""Path of the beacon endpoint under the public URL."""
MAX_BEACON_BYTES = 4096
"""Largest beacon body accepted (a real one is ~200 bytes); larger gets HTTP 413."""
COUNTED = (StreamStatus.LIVE, StreamStatus.RECONNECTING)
"""Statuses in which beacons are accepted and viewers counted (players may buffer through a reconnect)."""
STATUS_TTL = 2.0
"""Seconds a stream's status (or its absence) is trusted without asking the database again."""
CACHE_LIMIT = 10_000
"""Stream statuses remembered at most (the cache is emptied when it grows past this). Only streams with a
genuine session token are looked up, so this holds streams that exist (or were deleted)."""


class Beacon(BaseModel):
    """The beacon body (JSON, camelCase). ``bufferingMs``: total rebuffering in this session so far (ms, as
    measured by the player; cumulative, so a lost beacon loses nothing); ``bitrate``: current rendition (bits/s);
    ``errors``: playback errors in this session so far. ``sessionId`` and ``sessionToken`` come from
    ``Stream.playback.session`` (``id``, ``token``). Unknown fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    stream_id: uuid.UUID
    viewer_id: str = Field(pattern=ID_PATTERN)
    session_id: str = Field(pattern=ID_PATTERN)
    session_token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)
    state: PlayerState
    buffering_ms: int = Field(0, ge=0, le=7 * 86_400_000)
    bitrate: int | None = Field(None, ge=0, le=1_000_000_000)
    errors: int = Field(0, ge=0, le=1_000_000)

    def data(self) -> BeaconData:
        return BeaconData(
            viewer_id=self.viewer_id, session_id=self.session_id, state=self.state,
            buffering_ms=self.buffering_ms, bitrate=self.bitrate, errors=self.errors,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Recorded:
    """What an accepted beacon did: ``counts``: its session now counts as a viewer; ``renewed``: a fresh token
    for the same session when the beacon's token was past half its lifetime (else ``None``)."""

    counts: bool
    renewed: PlaybackSession | None = None


class Viewers:
    """Beacons in, concurrent viewers out, for this process.

    ``window`` (s): how long a counting beacon keeps its viewer counted. ``clock`` returns Unix seconds (beacon
    times and session token expiries). ``beacon_url``: where players send beacons (``Playback.beaconUrl``).
    ``signer``: issues and checks playback session tokens (default: a random key of this process, 600 s).
    ``limit``: beacon requests per client address (default: 600 per minute, counted in memory).
    ``status_ttl`` (s): how long a stream's status is cached.
    """

    def __init__(
        self,
        store: ViewerStore | None = None,
        *,
        window: float = 15.0,
        clock: Callable[[], float] = time.time,
        beacon_url: str = BEACON_PATH,
        signer: SessionSigner | None = None,
        limit: AddressLimit | None = None,
        status_ttl: float = STATUS_TTL,
    ) -> None:
        self.store: ViewerStore = store if store is not None else MemoryViewerStore()
        self.window_ms = int(window * 1000)
        self.clock = clock
        self.beacon_url = beacon_url
        self.signer = signer if signer is not None else SessionSigner()
        self.limit = limit if limit is not None else AddressLimit(namespace="beacons")
        self.status_ttl = status_ttl
        self._statuses: dict[str, tuple[StreamStatus | None, float]] = {}
        self._lookups: dict[str, asyncio.Future[StreamStatus | None]] = {}

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def open_session(self, stream_id: str) -> PlaybackSession:
        """A new playback session for one player of ``stream_id`` (any status: a player may open it before the
        stream goes live). Stateless: nothing is stored until its first accepted beacon."""
        return self.signer.issue(stream_id, now=self.clock())

    async def admit(self, client: str | None) -> None:
        """Count one beacon request from the client address ``client``: ``RateLimited`` past the limit,
        ``LimitUnavailable`` when the limit's storage cannot be reached."""
        await self.limit.hit(client)

    async def record(self, beacon: Beacon) -> Recorded:
        """Apply one beacon (see the module docstring for the checks, in order). Raises ``InvalidSession``,
        ``SessionExpired``, ``NotFound`` (no such stream), ``InvalidState`` (not live), ``StoreFull`` (no room
        for a new session) or ``StoreUnavailable``; nothing is stored unless it returns."""
        stream_id = str(beacon.stream_id)
        now = self.clock()
        expires = self.signer.verify(stream_id, beacon.session_id, beacon.session_token, now=now)
        status = await self._status(stream_id)
        if status is None:
            raise NotFound(f"stream {stream_id} does not exist")
        if status not in COUNTED:
            raise InvalidState(
                f"stream {stream_id} is {status.value}: beacons count only while it is LIVE or RECONNECTING",
                current_status=status.value,
            )
        counts = await self.store.record(stream_id, beacon.data(), now=int(now * 1000), window_ms=self.window_ms)
        renewed = None
        if self.signer.renewal_due(expires, now=now):
            renewed = self.signer.issue(stream_id, beacon.session_id, now=now)
        return Recorded(counts=counts, renewed=renewed)

    async def concurrent(self, stream_id: str) -> int:
        """Concurrent viewers of a stream now (distinct viewer ids; see the module docstring)."""
        return await self.store.count(stream_id, since=self.now_ms() - self.window_ms)

    async def take_sessions(self, stream_id: str, *, limit: int) -> list[SessionState]:
        """Sessions changed since they were last taken (for the database flush)."""
        return await self.store.take_dirty(stream_id, limit=limit)

    async def put_back(self, stream_id: str, sessions: list[SessionState]) -> None:
        """Mark taken sessions changed again (their database write failed)."""
        await self.store.put_back(stream_id, sessions)

    async def evict(self, *, keep: set[str], finishing: set[str]) -> int:
        """Forget the sessions of streams that are no longer live (see ``ViewerStore.evict``)."""
        return await self.store.evict(keep=keep, finishing=finishing)

    async def close(self) -> None:
        """Release the store and the rate limit (Redis connections); called when the process stops."""
        try:
            await self.store.close()
        finally:
            await self.limit.close()

    async def _status(self, stream_id: str) -> StreamStatus | None:
        """The stream's status (``None``: no such stream), from a small per-process cache (beacons must not
        query the database). Concurrent beacons of an uncached stream share one lookup."""
        cached = self._statuses.get(stream_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        lookup = self._lookups.get(stream_id)
        if lookup is None:
            lookup = self._lookups[stream_id] = asyncio.ensure_future(self._look_up(stream_id))
        return await asyncio.shield(lookup)

    async def _look_up(self, stream_id: str) -> StreamStatus | None:
        try:
            found = await Stream.filter(id=stream_id).values_list("status", flat=True)
        finally:
            del self._lookups[stream_id]
        status = StreamStatus(found[0]) if found else None
        if len(self._statuses) >= CACHE_LIMIT:
            self._statuses.clear()
        self._statuses[stream_id] = (status, time.monotonic() + self.status_ttl)
        return status


def create_store(
    url: str,
    *,
    max_sessions_per_stream: int = MAX_SESSIONS_PER_STREAM,
    max_sessions: int = MAX_SESSIONS,
    session_ttl_ms: int | None = None,
) -> ViewerStore:
    """``memory://`` (one process) or ``redis://host:port/db`` (shared). ``ValueError`` for anything else.
    Caps: sessions per stream (both stores) and in all (memory); ``session_ttl_ms``: how long a session without
    beacons is kept (default ``viewer_store.SESSION_TTL_MS``)."""
    scheme = url.split("://", 1)[0]
    ttl = {"session_ttl_ms": session_ttl_ms} if session_ttl_ms is not None else {}
    if scheme == "memory":
        return MemoryViewerStore(max_sessions_per_stream=max_sessions_per_stream, max_sessions=max_sessions, **ttl)
    if scheme in ("redis", "rediss"):
        from livecast.domain.viewer_store_redis import RedisViewerStore

        return RedisViewerStore(url, max_sessions_per_stream=max_sessions_per_stream, **ttl)
    raise ValueError(f"unsupported LIVECAST_VIEWERS_URL {url!r}: use memory:// or redis://")
