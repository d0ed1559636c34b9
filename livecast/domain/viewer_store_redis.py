"""The ``ViewerStore`` on Redis (distributed mode): every API process writes beacons here, and whichever
worker runs the viewer count reads the same data, so all processes agree.

Keys of one stream share the hash tag ``{<streamId>}``:

* ``lcv:{s}:s:<viewerId>|<sessionId>``  hash: the session (fields below), expires after an hour without beacons;
* ``lcv:{s}:active``  sorted set: ``<viewerId>|<sessionId>`` scored by the time (ms) of its last counting beacon;
* ``lcv:{s}:dirty``  set: sessions changed since the last database flush.

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
    REBUFFER_LIMIT_MS,
    SESSION_TTL_MS,
    BeaconData,
    SessionState,
    StoreUnavailable,
)

MAX_PIPELINE = 500
"""Beacons sent in one pipeline at most."""
POOL_SIZE, POOL_TIMEOUT = 16, 5.0
"""Redis connections per process, and seconds a command waits for a free one."""

PREFIX = "lcv"

# ARGV: now, state, reported buffering ms, bitrate ('' unknown), errors, member, window ms, rebuffer limit ms,
# ttl ms, viewer id, session id. Mirrors viewer_store.advance (the contract tests run both).
BEACON = """
local now = tonumber(ARGV[1])
local state = ARGV[2]
local f = redis.call('HMGET', KEYS[1], 'st', 't', 't0', 'p', 'bs', 'w', 'b', 'e', 'br')
local prev = f[1]
local watch, buffered, started, played, since, errors = 0, 0, now, false, 0, 0
local bitrate = ARGV[4]
if prev then
  watch = tonumber(f[6]); buffered = tonumber(f[7]); started = tonumber(f[3])
  played = f[4] == '1'; since = tonumber(f[5]); errors = tonumber(f[8])
  local gap = now - tonumber(f[2])
  if gap < 0 then gap = 0 end
  if gap > tonumber(ARGV[7]) then gap = tonumber(ARGV[7]) end
  if prev == 'playing' then watch = watch + gap elseif prev == 'buffering' then buffered = buffered + gap end
  if bitrate == '' then bitrate = f[9] or '' end
end
if state == 'playing' then played = true end
if state == 'buffering' then
  if not (prev == 'buffering' and since > 0) then since = now end
else
  since = 0
end
local counts = state == 'playing' or (state == 'buffering' and played and now - since < tonumber(ARGV[8]))
if tonumber(ARGV[3]) > buffered then buffered = tonumber(ARGV[3]) end
if tonumber(ARGV[5]) > errors then errors = tonumber(ARGV[5]) end
redis.call('HSET', KEYS[1], 'v', ARGV[10], 's', ARGV[11], 'st', state, 't', now, 't0', started,
  'p', played and '1' or '0', 'bs', since, 'w', watch, 'b', buffered, 'e', errors, 'br', bitrate)
redis.call('PEXPIRE', KEYS[1], ARGV[9])
if counts then redis.call('ZADD', KEYS[2], now, ARGV[6]) else redis.call('ZREM', KEYS[2], ARGV[6]) end
redis.call('SADD', KEYS[3], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[9])
redis.call('PEXPIRE', KEYS[3], ARGV[9])
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
    """``ViewerStore`` on the Redis at ``url``. Methods raise ``StoreUnavailable`` when Redis fails."""

    def __init__(self, url: str) -> None:
        pool = BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=POOL_TIMEOUT, decode_responses=True)
        self.redis = Redis.from_pool(pool)  # aclose() closes the pool too
        self._beacon = self.redis.register_script(BEACON)
        self._count = self.redis.register_script(COUNT)
        self._take = self.redis.register_script(TAKE)
        self._queue: list[tuple[list[str], list[object], asyncio.Future[object]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def record(self, stream_id: str, beacon: BeaconData, *, now: int, window_ms: int) -> bool:
        tag = _tag(stream_id)
        member = f"{beacon.viewer_id}|{beacon.session_id}"
        bitrate = "" if beacon.bitrate is None else beacon.bitrate
        args: list[object] = [now, beacon.state.value, beacon.buffering_ms, bitrate, beacon.errors, member, window_ms,
                              REBUFFER_LIMIT_MS, SESSION_TTL_MS, beacon.viewer_id, beacon.session_id]  # fmt: skip
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queue.append(([f"{tag}:s:{member}", f"{tag}:active", f"{tag}:dirty"], args, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        return bool(await future)

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
                        future.set_exception(result if isinstance(result, StoreUnavailable) else StoreUnavailable(str(result)))
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
                await self.redis.sadd(f"{_tag(stream_id)}:dirty", *(s.key for s in sessions))
            except RedisError as e:
                raise StoreUnavailable(f"viewer store: {e}") from e

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
