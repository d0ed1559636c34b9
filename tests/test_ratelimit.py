"""Per-user rate limits (``limits``, moving window) on memory and on a real Redis: bursts, exact retry-after."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from livecast.domain import ratelimit
from livecast.domain.errors import RateLimited
from livecast.domain.ratelimit import CHAT, REACTIONS, STREAMS, RateLimits
from tests.helpers.processes import PrivateRedis


async def _burst(limits: RateLimits, user: str, n: int) -> None:
    for _ in range(n):
        await limits.check(CHAT, user)


async def _assert_burst_refuse_recover(url: str) -> None:
    limits = RateLimits(url, chat="3/1 second", reactions="2/1 second")
    try:
        await _burst_refuse_recover(limits)
    finally:
        await limits.close()


async def _burst_refuse_recover(limits: RateLimits) -> None:
    user, other = f"u-{uuid.uuid4()}", f"u-{uuid.uuid4()}"
    await _burst(limits, user, 3)  # a burst up to the limit is allowed
    with pytest.raises(RateLimited) as refused:
        await limits.check(CHAT, user)
    assert 0 < refused.value.retry_after <= 1.0
    await _burst(limits, other, 3)  # counted per user ...
    await limits.check(REACTIONS, user)  # ... and per action
    retry_after = refused.value.retry_after
    assert retry_after > 0.5  # the burst was just now: about a whole period to wait
    await asyncio.sleep(retry_after - 0.25)
    with pytest.raises(RateLimited):  # not before ``retry_after`` (rounded up to 0.1 s) ...
        await limits.check(CHAT, user)
    await asyncio.sleep(0.3)
    await limits.check(CHAT, user)  # ... but right after it


async def test_memory_limits_burst_refuse_and_recover() -> None:
    await _assert_burst_refuse_recover("memory://")


async def test_redis_limits_burst_refuse_and_recover(redis_url: str) -> None:
    await _assert_burst_refuse_recover(redis_url)


async def test_api_processes_on_one_redis_share_a_users_count(redis_url: str) -> None:
    a = RateLimits(redis_url, chat="4/10 seconds")
    b = RateLimits(redis_url, chat="4/10 seconds")  # as a second API process would build it
    user = f"u-{uuid.uuid4()}"
    await _burst(a, user, 2)
    await _burst(b, user, 2)
    try:
        for limits in (a, b):
            with pytest.raises(RateLimited):
                await limits.check(CHAT, user)
    finally:
        await a.close()
        await b.close()


async def test_refused_actions_do_not_use_up_capacity() -> None:
    limits = RateLimits("memory://", chat="2/1 second")
    user = f"u-{uuid.uuid4()}"
    await _burst(limits, user, 2)
    for _ in range(20):  # hammering while refused must not push the next allowed action further out
        with pytest.raises(RateLimited):
            await limits.check(CHAT, user)
    await asyncio.sleep(1.05)
    await limits.check(CHAT, user)


async def test_privileged_limits_are_higher_and_counted_apart() -> None:
    limits = RateLimits("memory://", chat="2/10 seconds", chat_privileged="4/10 seconds", streams="1/day")
    user = f"u-{uuid.uuid4()}"
    await _burst(limits, user, 2)
    with pytest.raises(RateLimited):
        await limits.check(CHAT, user)
    for _ in range(4):  # where the user moderates: their own, higher count
        await limits.check(CHAT, user, privileged=True)
    with pytest.raises(RateLimited) as refused:
        await limits.check(CHAT, user, privileged=True)
    assert "chat messages" in refused.value.message and 9 < refused.value.retry_after <= 10
    await limits.check(STREAMS, user, privileged=True)  # one limit for everyone
    with pytest.raises(RateLimited) as refused:
        await limits.check(STREAMS, user)
    assert 86_000 < refused.value.retry_after <= 86_400


async def test_a_redis_outage_is_counted_in_the_process_meanwhile(
    private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ratelimit, "FALLBACK_SECONDS", 0.3)
    caplog.set_level(logging.INFO, logger=ratelimit.__name__)
    limits = RateLimits(private_redis.url, chat="3/10 seconds")
    user = f"u-{uuid.uuid4()}"
    try:
        await _burst(limits, user, 2)  # counted in Redis
        await private_redis.kill()
        await _burst(limits, user, 3)  # chat goes on, counted here ...
        with pytest.raises(RateLimited):  # ... and limited
            await limits.check(CHAT, user)
        await asyncio.sleep(0.4)
        with pytest.raises(RateLimited):  # Redis tried again, still down: still counted here
            await limits.check(CHAT, user)
        warnings = [r for r in caplog.records if r.name == ratelimit.__name__ and r.levelno == logging.WARNING]
        assert len(warnings) == 1, "one warning per outage"
        await private_redis.start()
        await asyncio.sleep(0.4)
        await _burst(limits, user, 3)  # Redis again (a new, empty one), not this process's count (full)
        with pytest.raises(RateLimited):
            await limits.check(CHAT, user)
        assert "available again" in caplog.text
    finally:
        await limits.close()
