"""The job run journal: which worker ran which job (task id), when, how long, and whether it failed.

A taskiq middleware records every execution: in memory (embedded mode) or, with Redis, in the capped stream
``<prefix>:runs`` that every worker appends to (``XRANGE <prefix>:runs - +`` shows the recent history of all
workers). Recording never fails a job: a journal that cannot be written is logged and skipped.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

logger = logging.getLogger(__name__)

KEEP = 10_000
"""Runs kept (approximately, for Redis) before the oldest are dropped."""


@dataclass(frozen=True)
class JobRun:
    """One execution. ``at`` is the end (Unix seconds), ``seconds`` its duration."""

    task: str
    task_id: str
    worker: str
    ok: bool
    seconds: float
    at: float

    def fields(self) -> dict[str, str]:
        return {
            "task": self.task,
            "task_id": self.task_id,
            "worker": self.worker,
            "ok": "1" if self.ok else "0",
            "seconds": f"{self.seconds:.3f}",
            "at": f"{self.at:.3f}",
        }

    @classmethod
    def from_fields(cls, raw: dict[Any, Any]) -> JobRun:
        f = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        return cls(f["task"], f["task_id"], f["worker"], f["ok"] == "1", float(f["seconds"]), float(f["at"]))


class Journal(TaskiqMiddleware):
    """Records runs in this process (embedded mode)."""

    def __init__(self, worker: str) -> None:
        super().__init__()
        self.worker = worker
        self._runs: deque[JobRun] = deque(maxlen=KEEP)

    async def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        run = JobRun(
            message.task_name, message.task_id, self.worker, not result.is_err, result.execution_time, time.time()
        )
        try:
            await self.record(run)
        except (RedisError, OSError) as e:
            logger.warning("job %s: run not journaled (%s)", run.task_id, e)

    async def record(self, run: JobRun) -> None:
        self._runs.append(run)

    async def runs(self) -> list[JobRun]:
        """Recent runs, oldest first."""
        return list(self._runs)


class RedisJournal(Journal):
    """Records runs of all workers in the Redis stream ``<prefix>:runs`` (capped near :data:`KEEP`)."""

    def __init__(self, redis: Redis, *, prefix: str, worker: str) -> None:
        super().__init__(worker)
        self.redis, self.key = redis, f"{prefix}:runs"

    async def record(self, run: JobRun) -> None:
        await self.redis.xadd(self.key, run.fields(), maxlen=KEEP, approximate=True)  # type: ignore[arg-type]

    async def runs(self) -> list[JobRun]:
        return [JobRun.from_fields(fields) for _, fields in await self.redis.xrange(self.key)]
