"""The ``ViewerStore`` on Redis (distributed mode): every API process writes beacons here, and whichever
worker runs the viewer count reads the same data, so all processes agree.

Keys of one stream share the hash tag ``{<streamId>}``:

* ``lcv:{s}:s:<sessionId>``  hash: the session (fields below, ``v`` its viewer id, set by its first beacon),
  expires after ``session_ttl_ms`` without beacons;
* ``lcv:{s}:active``  sorted set: ``<viewerId>|<sessionId>`` scored by the time (ms) of its last counting beacon;
* ``lcv:{s}:dirty``  set: session ids changed since the last database flush;
* ``lcv:{s}:sessions``  sorted set: every session id scored by its last beacon (ms), for the per-stream cap: a
  new session first drops the members idle past the TTL (their hashes have expired), then is refused (the
  script returns -1, :class:`StoreFull`) when ``max_sessions_per_stream`` remain.

There is no cap across streams here: a global counter would be a key outside the stream's hash slot (not
possible in one script on Redis Cluster); Redis's ``maxmemory`` bounds the whole.

A beacon is one ``EVALSHA`` (read the session, apply :func:`livecast.domain.viewer_store.advance`'s rules,
write it, update the active and dirty sets), atomic. Beacons arriving while a round trip is in flight are sent
together in the next pipeline (no added delay; arrival order kept), so thousands of beacons per second cost a
few hundred round trips. Counting is one ``EVALSHA`` that drops stale members and counts distinct viewer ids in
Redis, so no member list crosses the network. Redis failures raise ``StoreUnavailable``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from livecast.domain.viewer_store import (
    MAX_SESSIONS_PER_STREAM,
    REBUFFER_LIMIT_MS,
    SESSION_TTL_MS,
    BeaconData,
    SessionState,
    StoreFull,
    StoreUnavailable,
)

MAX_PIPELINE = 500
"""Beacons sent in one pipeline at most."""
POOL_SIZE, POOL_TIMEOUT = 16, 5.0
"""Redis connections per process, and seconds a command waits for a free one."""

PREFIX = "lcv"

# KEYS: session hash, active, dirty, sessions. ARGV: now, state, reported buffering ms, bitrate ('' unknown),
# errors, window ms, rebuffer limit ms, ttl ms, viewer id, session id, max sessions of the stream.
# Mirrors viewer_store.advance (the contract tests run both). Returns 1 counts, 0 does not, -1 full (nothing done).
BEACON = """
local now, state, bitrate = tonumber(ARGV[1]), ARGV[2], ARGV[4]
local window, rebuffer_limit, ttl = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local viewer, session = ARGV[9], ARGV[10]
local f = redis.call('HMGET', KEYS[1], 'st', 't', 't0', 'p', 'bs', 'w', 'b', 'e', 'br', 'v')
local prev = f[1]
local watch, buffered, started, played, since, errors = 0, 0, now, false, 0, 0
if prev then
  viewer = f[10] or viewer
  watch = tonumber(f[6]); buffered = tonumber(f[7]); started = tonumber(f[3])
  played = f[4] == '1'; since = tonumber(f[5]); errors = tonumber(f[8])
  local gap = now - tonumber(f[2])
  if gap < 0 then gap = 0 end
  if gap > window then gap = window end
  if prev == 'playing' then watch = watch + gap elseif prev == 'buffering' then buffered = buffered + gap end
  if bitrate == '' then bitrate = f[9] or '' end
else
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - tonumber(ttl)))
  if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[11]) then return -1 end
end
if state == 'playing' then played = true end
if state == 'buffering' then
  if not (prev == 'buffering' and since > 0) then since = now end
else
  since = 0
end
local counts = state == 'playing' or (state == 'buffering' and played and now - since < rebuffer_limit)
if tonumber(ARGV[3]) > buffered then buffered = tonumber(ARGV[3]) end
if tonumber(ARGV[5]) > errors then errors = tonumber(ARGV[5]) end
local member = viewer .. '|' .. session
redis.call('HSET', KEYS[1], 'v', viewer, 's', session, 'st', state, 't', now, 't0', started,
  'p', played and '1' or '0', 'bs', since, 'w', watch, 'b', buffered, 'e', errors, 'br', bitrate)
if counts then redis.call('ZADD', KEYS[2], now, member) else redis.call('ZREM', KEYS[2], member) end
redis.call('SADD', KEYS[3], session)
redis.call('ZADD', KEYS[4], now, session)
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
if counts then return 1 end
return 0
"""

COUNT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local seen, n = {}, 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local viewer = string.sub(member, 1, string.find(member, '|', 1, true) - 1)
  if not seen[viewer] then seen[viewer] = true; n = n + 1 end
end
return n
"""

TAKE = """
local out = {}
for _, key in ipairs(redis.call('SPOP', KEYS[1], ARGV[1])) do
  local f = redis.call('HMGET', ARGV[2] .. key, 'v', 's', 'st', 't0', 't', 'p', 'bs', 'w', 'b', 'e', 'br')
  if f[1] then table.insert(out, f) end
end
return out
"""


def _tag(stream_id: str) -> str:
    return f"{PREFIX}:{{{stream_id}}}"


class RedisViewerStore:
    """``ViewerStore`` on the Redis at ``url``. Methods raise ``StoreUnavailable`` when Redis fails.
    ``session_ttl_ms``: a session's keys expire this long after its last beacon; ``max_sessions_per_stream``:
    cap on the sessions of one stream (``StoreFull`` past it)."""

    def __init__(
        self, url: str, *, session_ttl_ms: int = SESSION_TTL_MS, max_sessions_per_stream: int = MAX_SESSIONS_PER_STREAM
    ) -> None:
        self.session_ttl_ms, self.max_sessions_per_stream = session_ttl_ms, max_sessions_per_stream
        pool = BlockingConnectionPool.from_url(
            url, max_connections=POOL_SIZE, timeout=POOL_TIMEOUT, decode_responses=True
        )
        self.redis = Redis.from_pool(pool)  # aclose() closes the pool too
        self._beacon = self.redis.register_script(BEACON)
        self._count = self.redis.register_script(COUNT)
        self._take = self.redis.register_script(TAKE)
        self._queue: list[tuple[list[str], list[object], asyncio.Future[object]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def record(self, stream_id: str, beacon: BeaconData, *, now: int, window_ms: int) -> bool:
        tag = _tag(stream_id)
        bitrate = "" if beacon.bitrate is None else beacon.bitrate
        args: list[object] = [now, beacon.state.value, beacon.buffering_ms, bitrate, beacon.errors, window_ms,
                              REBUFFER_LIMIT_MS, self.session_ttl_ms, beacon.viewer_id, beacon.session_id,
                              self.max_sessions_per_stream]  # fmt: skip
        keys = [f"{tag}:s:{beacon.session_id}", f"{tag}:active", f"{tag}:dirty", f"{tag}:sessions"]
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        result = await future
        if result == -1:
            raise StoreFull(f"this stream has {self.max_sessions_per_stream} playback sessions, the most allowed")
        return bool(result)

    async def _send(self) -> None:
        """Send queued beacons, one pipeline at a time, until the queue is empty."""
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_PIPELINE], self._queue[MAX_PIPELINE:]
                try:
                    results = await _pipeline(self.redis, self._beacon, [(keys, args) for keys, args, _ in batch])
                except RedisError as e:
                    results = [StoreUnavailable(f"viewer store: {e}")] * len(batch)
                for (_, _, future), result in zip(batch, results, strict=True):
                    if future.done():  # the request went away
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(
                            result if isinstance(result, StoreUnavailable) else StoreUnavailable(str(result))
                        )
                    else:
                        future.set_result(result)
        finally:
            self._sender = None

    async def count(self, stream_id: str, *, since: int) -> int:
        try:
            return int(await self._count(keys=[f"{_tag(stream_id)}:active"], args=[since]))
        except RedisError as e:
            raise StoreUnavailable(f"viewer store: {e}") from e

    async def take_dirty(self, stream_id: str, *, limit: int) -> list[SessionState]:
        tag = _tag(stream_id)
        try:
            rows = await self._take(keys=[f"{tag}:dirty"], args=[limit, f"{tag}:s:"])
        except RedisError as e:
            raise StoreUnavailable(f"viewer store: {e}") from e
        return [_session(row) for row in rows]

    async def put_back(self, stream_id: str, sessions: list[SessionState]) -> None:
        if sessions:
            try:
                await self.redis.sadd(f"{_tag(stream_id)}:dirty", *(s.session_id for s in sessions))
            except RedisError as e:
                raise StoreUnavailable(f"viewer store: {e}") from e

    async def evict(self, *, keep: set[str], finishing: set[str]) -> int:
        """Nothing to do: every key of a stream expires ``session_ttl_ms`` after its last beacon."""
        return 0

    async def close(self) -> None:
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        await self.redis.aclose()


async def _pipeline(redis: Redis, script: AsyncScript, calls: Sequence[tuple[list[str], list[object]]]) -> list[object]:
    """Run ``script`` once per call in one pipeline (not a transaction); per-call errors come back as values."""
    async with redis.pipeline(transaction=False) as pipe:
        for keys, args in calls:
            await script(keys=keys, args=args, client=pipe)  # type: ignore[arg-type]
        return await pipe.execute(raise_on_error=False)


def _session(row: list[str | None]) -> SessionState:
    viewer, session, state, started, seen, played, since, watch, buffered, errors, bitrate = row
    return SessionState(
        viewer_id=str(viewer), session_id=str(session), state=str(state), started_at=int(float(started or 0)),
        last_seen=int(float(seen or 0)), played=played == "1", buffering_since=int(float(since or 0)),
        watch_ms=int(float(watch or 0)), buffering_ms=int(float(buffered or 0)), errors=int(float(errors or 0)),
        bitrate=int(float(bitrate)) if bitrate else None,
    )  # fmt: skip
