"""Playback beacons and concurrent viewers (CCV), after the product brief (Mux Data's definition).

A player sends a beacon every ~5 s while it is open (``POST /v1/playback/beacon``). A viewer (``viewerId``,
stable across tabs and devices) counts while at least one of their sessions (``sessionId``, one per player)
sent, within the last ``window`` seconds (15 by default), a beacon in the ``playing`` state, or in the
``buffering`` state after having played and for less than 5 minutes. Paused, ended, never-started and long
rebuffering sessions do not count; a silent one stops counting after the window.

Beacons only touch the :class:`~livecast.domain.viewer_store.ViewerStore` (memory, or Redis shared by all
processes); the periodic viewer count (:mod:`livecast.domain.viewer_counts`) turns them into counts, events,
time series and session rows. The clock is injectable so tests can simulate minutes in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from livecast.domain.errors import NotFound
from livecast.domain.models import Stream
from livecast.domain.viewer_store import BeaconData, MemoryViewerStore, PlayerState, SessionState, ViewerStore

ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
"""Viewer and session ids: 1-128 letters, digits and ``_ . : @ -`` (a UUID fits)."""
BEACON_PATH = "/v1/playback/beacon"
"""Path of the beacon endpoint under the public URL."""
MAX_BEACON_BYTES = 4096
"""Largest beacon body accepted (a real one is ~200 bytes); larger gets HTTP 413."""
KNOWN_TTL = 60.0
"""Seconds a stream id found in the database is trusted without asking again."""
UNKNOWN_TTL = 5.0
"""Seconds an unknown stream id is refused without asking the database again."""
CACHE_LIMIT = 100_000
"""Stream ids remembered at most (the cache is emptied when it grows past this)."""


class Beacon(BaseModel):
    """The beacon body (JSON, camelCase). ``bufferingMs``: total rebuffering in this session so far (ms, as
    measured by the player; cumulative, so a lost beacon loses nothing); ``bitrate``: current rendition (bits/s);
    ``errors``: playback errors in this session so far. Unknown fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    stream_id: uuid.UUID
    viewer_id: str = Field(pattern=ID_PATTERN)
    session_id: str = Field(pattern=ID_PATTERN)
    state: PlayerState
    buffering_ms: int = Field(0, ge=0, le=7 * 86_400_000)
    bitrate: int | None = Field(None, ge=0, le=1_000_000_000)
    errors: int = Field(0, ge=0, le=1_000_000)

    def data(self) -> BeaconData:
        return BeaconData(
            viewer_id=self.viewer_id, session_id=self.session_id, state=self.state,
            buffering_ms=self.buffering_ms, bitrate=self.bitrate, errors=self.errors,
        )  # fmt: skip


class Viewers:
    """Beacons in, concurrent viewers out, for this process.

    ``window`` (s): how long a counting beacon keeps its viewer counted. ``clock`` returns Unix seconds.
    ``beacon_url``: where players send beacons (exposed as ``Playback.beaconUrl``).
    """

    def __init__(
        self,
        store: ViewerStore | None = None,
        *,
        window: float = 15.0,
        clock: Callable[[], float] = time.time,
        beacon_url: str = BEACON_PATH,
    ) -> None:
        self.store: ViewerStore = store if store is not None else MemoryViewerStore()
        self.window_ms = int(window * 1000)
        self.clock = clock
        self.beacon_url = beacon_url
        self._streams: dict[str, tuple[bool, float]] = {}
        self._lookups: dict[str, asyncio.Future[bool]] = {}

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def record(self, beacon: Beacon) -> bool:
        """Apply one beacon; returns whether its session now counts as a viewer.

        Raises ``NotFound`` for a stream that does not exist (nothing is stored), and ``StoreUnavailable`` when the
        store cannot be reached."""
        stream_id = str(beacon.stream_id)
        if not await self._exists(stream_id):
            raise NotFound(f"stream {stream_id} does not exist")
        return await self.store.record(stream_id, beacon.data(), now=self.now_ms(), window_ms=self.window_ms)

    async def concurrent(self, stream_id: str) -> int:
        """Concurrent viewers of a stream now (distinct viewer ids; see the module docstring)."""
        return await self.store.count(stream_id, since=self.now_ms() - self.window_ms)

    async def take_sessions(self, stream_id: str, *, limit: int) -> list[SessionState]:
        """Sessions changed since they were last taken (for the database flush)."""
        return await self.store.take_dirty(stream_id, limit=limit)

    async def put_back(self, stream_id: str, sessions: list[SessionState]) -> None:
        """Mark taken sessions changed again (their database write failed)."""
        await self.store.put_back(stream_id, sessions)

    async def close(self) -> None:
        """Release the store (Redis connections); called when the process stops."""
        await self.store.close()

    async def _exists(self, stream_id: str) -> bool:
        """Whether the stream exists, from a small per-process cache (beacons must not query the database).
        Concurrent beacons of an uncached stream share one lookup (10,000 players after a restart: one query)."""
        cached = self._streams.get(stream_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        lookup = self._lookups.get(stream_id)
        if lookup is None:
            lookup = self._lookups[stream_id] = asyncio.ensure_future(self._look_up(stream_id))
        return await asyncio.shield(lookup)

    async def _look_up(self, stream_id: str) -> bool:
        try:
            exists = await Stream.exists(id=stream_id)
        finally:
            del self._lookups[stream_id]
        if len(self._streams) >= CACHE_LIMIT:
            self._streams.clear()
        self._streams[stream_id] = (exists, time.monotonic() + (KNOWN_TTL if exists else UNKNOWN_TTL))
        return exists


def create_store(url: str) -> ViewerStore:
    """``memory://`` (one process) or ``redis://host:port/db`` (shared). ``ValueError`` for anything else."""
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return MemoryViewerStore()
    if scheme in ("redis", "rediss"):
        from livecast.domain.viewer_store_redis import RedisViewerStore

        return RedisViewerStore(url)
    raise ValueError(f"unsupported LIVECAST_VIEWERS_URL {url!r}: use memory:// or redis://")
