"""Periodic jobs: kick a taskiq task once per period, however many worker processes tick.

Every process that runs jobs ticks on wall-clock period boundaries. Periods are numbered from the Unix epoch
(slot ``n`` starts at ``n * period`` seconds), so all processes compute the same slot number for the same
period whatever their start time or wake-up jitter. Before kicking the task for slot ``n`` a process claims
the slot; with Redis the claim is ``SET <prefix>:tick:<job>:<n> <worker> NX PX <ttl>``, which exactly one
process wins. The winner kicks the task (with the slot as its argument and ``<job>:<n>`` as task id); the
broker hands it to one worker.

Why not taskiq's ``TaskiqScheduler``: its documentation asks for exactly one scheduler process (a single
point of failure, and one more process to run), its interval schedules are whole seconds counted from each
process's start, and a per-period lock needs a period number every process agrees on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq import AsyncTaskiqDecoratedTask
from taskiq.exceptions import SendTaskError

logger = logging.getLogger(__name__)

CLAIM_MARGIN = 60.0
"""Seconds a claim outlives its period: a process may tick late (a busy loop, clock skew between hosts)."""


@dataclass(frozen=True)
class Periodic:
    """Kick ``task(slot=n)`` once per ``period`` seconds (``n`` numbers the period since the epoch)."""

    name: str
    task: AsyncTaskiqDecoratedTask[Any, Any]
    period: float

    def task_id(self, slot: int) -> str:
        return f"{self.name}:{slot}"


class Claims(Protocol):
    async def claim(self, job: str, slot: int, *, ttl: float) -> bool:
        """True for exactly one caller per ``(job, slot)`` among the processes sharing the claims.

        ``ttl`` (seconds) is how long the claim is remembered. May raise the store's errors."""


class LocalClaims:
    """One process (embedded mode): every slot is ours."""

    async def claim(self, job: str, slot: int, *, ttl: float) -> bool:
        return True


class RedisClaims:
    """Claims shared by all processes on one Redis: ``SET key owner NX PX ttl``."""

    def __init__(self, redis: Redis, *, prefix: str, owner: str) -> None:
        self.redis, self.prefix, self.owner = redis, prefix, owner

    def key(self, job: str, slot: int) -> str:
        return f"{self.prefix}:tick:{job}:{slot}"

    async def claim(self, job: str, slot: int, *, ttl: float) -> bool:
        """Raises ``redis.exceptions.RedisError`` when Redis cannot be reached."""
        return bool(await self.redis.set(self.key(job, slot), self.owner, nx=True, px=max(1, int(ttl * 1000))))


async def tick(job: Periodic, claims: Claims, *, clock: Callable[[], float] = time.time) -> None:
    """Kick ``job`` at every period boundary whose slot this process claims; runs until cancelled.

    A process that wakes up more than a period late skips the missed slots (the job runs for the current
    one; missed periods are not caught up, every job looks at the present state). Errors (Redis down, the
    kick failing) are logged and the next period tries again.
    """
    slot = math.floor(clock() / job.period) + 1
    while True:
        await asyncio.sleep(max(0.0, slot * job.period - clock()))
        current = math.floor(clock() / job.period)
        if current > slot:
            logger.warning("job %s: %d period(s) skipped (the process was busy)", job.name, current - slot)
            slot = current
        try:
            if await claims.claim(job.name, slot, ttl=2 * job.period + CLAIM_MARGIN):
                await job.task.kicker().with_task_id(job.task_id(slot)).kiq(slot=slot)
        except (RedisError, SendTaskError) as e:
            logger.warning("job %s: slot %d not kicked (Redis: %s); the next period tries again", job.name, slot, e)
        except Exception:
            logger.exception("job %s: could not kick slot %d; the next period tries again", job.name, slot)
        slot += 1
