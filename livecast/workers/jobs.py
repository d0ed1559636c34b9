"""Background jobs on taskiq: the broker for ``LIVECAST_JOBS_URL``, livecast's jobs, and the two ways to run them.

* Embedded (``memory://``, the default): ``livecast serve`` starts :class:`Jobs` in its own event loop; taskiq's
  ``InMemoryBroker`` runs every kicked job as an asyncio task of that process.
* Distributed (``redis://``): :func:`run_worker` is ``livecast worker``. Jobs travel through a Redis list
  (taskiq-redis ``ListQueueBroker``, key ``<prefix>:queue``); each is taken by one worker process.

Every process that runs jobs also ticks the periodic ones (:mod:`livecast.workers.scheduler`); a Redis claim
per period makes each run once per period across all workers. Delivery is at most once (a job taken by a
worker that crashes is not redelivered): every job is idempotent, and the periodic checks find unfinished work
again at their next period, which is the retry. Jobs get ``Deps`` and ``Settings`` by taskiq dependency
injection (``deps: Deps = TaskiqDepends()``) and call domain services only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from urllib.parse import urlparse

from redis.asyncio import Redis
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.receiver import Receiver
from taskiq_redis import ListQueueBroker

from livecast.domain.deps import Deps
from livecast.domain.provider_monitoring import ProviderHealthPoller
from livecast.domain.webhooks import StreamLocks
from livecast.settings import ConfigurationError, Settings
from livecast.workers import health, lifecycle, livekit, mux, schedule, viewers, webhooks
from livecast.workers.journal import Journal, RedisJournal
from livecast.workers.scheduler import Claims, LocalClaims, Periodic, RedisClaims, tick

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0
"""Seconds the jobs running when a process stops get to finish."""
RETRY_MAX = 30.0
"""Longest wait (seconds) between two attempts to reach the job queue after it failed."""


def worker_name() -> str:
    """``host:pid``: who claimed a period and who ran a job (see the journal)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_distributed(jobs_url: str) -> bool:
    """True for ``redis://``/``rediss://``, False for ``memory://``; ``ConfigurationError`` for anything else."""
    scheme = urlparse(jobs_url).scheme
    if scheme in ("redis", "rediss"):
        return True
    if scheme == "memory":
        return False
    raise ConfigurationError(f"unsupported LIVECAST_JOBS_URL scheme {scheme!r}: use memory:// or redis://")


@dataclass
class Jobs:
    """A broker with livecast's jobs registered, and the period ticks of this process."""

    broker: AsyncBroker
    periodic: list[Periodic]
    claims: Claims
    journal: Journal
    redis: Redis | None = None
    tickers: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Start the broker and this process's period ticks."""
        await self.broker.startup()
        self.tickers = [
            asyncio.create_task(tick(job, self.claims), name=f"livecast-tick-{job.name}") for job in self.periodic
        ]

    async def stop(self) -> None:
        """Stop ticking; let in-process jobs finish (up to :data:`STOP_TIMEOUT` s); close the broker and Redis."""
        for ticker in self.tickers:
            ticker.cancel()
        await asyncio.gather(*self.tickers, return_exceptions=True)
        if isinstance(self.broker, InMemoryBroker):
            try:  # twice: a running check may still kick per-stream jobs
                await asyncio.wait_for(self.broker.wait_all(), STOP_TIMEOUT)
                await asyncio.wait_for(self.broker.wait_all(), STOP_TIMEOUT)
            except TimeoutError:
                logger.warning("jobs still running after %ss are abandoned", STOP_TIMEOUT)
        try:
            await self.broker.shutdown()
        finally:
            if self.redis is not None:
                await self.redis.aclose()


def create_jobs(settings: Settings, deps: Deps) -> Jobs:
    """The broker for ``settings.jobs_url`` with every livecast job registered; opens no connection yet.

    Raises ``ConfigurationError`` for an unsupported URL scheme.
    """
    worker = worker_name()
    redis: Redis | None = None
    broker: AsyncBroker
    claims: Claims
    if is_distributed(settings.jobs_url):
        redis = Redis.from_url(settings.jobs_url)
        broker = ListQueueBroker(settings.jobs_url, queue_name=f"{settings.jobs_prefix}:queue")
        claims = RedisClaims(redis, prefix=settings.jobs_prefix, owner=worker)
        journal: Journal = RedisJournal(redis, prefix=settings.jobs_prefix, worker=worker)
    else:
        broker = InMemoryBroker(max_async_tasks=settings.worker_concurrency)
        claims, journal = LocalClaims(), Journal(worker)
    broker.add_middlewares(journal)
    broker.add_dependency_context(
        {Deps: deps, Settings: settings, ProviderHealthPoller: ProviderHealthPoller(deps.bus, provider="mux")}
    )
    broker.add_dependency_context({StreamLocks: StreamLocks()})  # webhook inbox: one applier per stream
    max_duration = broker.register_task(lifecycle.end_over_max_duration, task_name=lifecycle.MAX_DURATION)
    deadline = broker.register_task(lifecycle.end_past_reconnect_deadline, task_name=lifecycle.RECONNECT_DEADLINE)
    check = broker.register_task(schedule.check, task_name=schedule.CHECK)
    broker.register_task(schedule.remind, task_name=schedule.REMIND)
    broker.register_task(schedule.cancel_unstarted, task_name=schedule.CANCEL)
    purge = broker.register_task(health.purge_samples, task_name=health.PURGE)
    count_viewers = broker.register_task(viewers.count_viewers, task_name=viewers.COUNT)
    livekit_check = broker.register_task(livekit.check_broadcasts, task_name=livekit.CHECK)
    mux_health = broker.register_task(mux.poll_health, task_name=mux.HEALTH)
    mux_viewers = broker.register_task(mux.count_viewers, task_name=mux.VIEWERS)
    broker.register_task(webhooks.apply_stream, task_name=webhooks.APPLY)
    webhook_sweep = broker.register_task(webhooks.sweep, task_name=webhooks.SWEEP)
    livekit_reconcile = broker.register_task(webhooks.reconcile_livekit, task_name=webhooks.RECONCILE)
    periodic = [
        Periodic(lifecycle.MAX_DURATION, max_duration, settings.lifecycle_check_seconds),
        Periodic(lifecycle.RECONNECT_DEADLINE, deadline, settings.lifecycle_check_seconds),
        Periodic(schedule.CHECK, check, settings.schedule_check_seconds),
        Periodic(health.PURGE, purge, settings.health_purge_seconds),
        Periodic(viewers.COUNT, count_viewers, settings.viewer_count_seconds),
        Periodic(livekit.CHECK, livekit_check, settings.lifecycle_check_seconds),
        Periodic(mux.HEALTH, mux_health, settings.mux_health_seconds),
        Periodic(mux.VIEWERS, mux_viewers, settings.mux_viewers_seconds),
        Periodic(webhooks.SWEEP, webhook_sweep, settings.lifecycle_check_seconds),
        Periodic(webhooks.RECONCILE, livekit_reconcile, webhooks.RECONCILE_SECONDS),
    ]
    return Jobs(broker=broker, periodic=periodic, claims=claims, journal=journal, redis=redis)


async def run_worker(settings: Settings, deps: Deps, stop: asyncio.Event) -> None:
    """Take jobs from the Redis queue and tick the periodic ones until ``stop`` is set (``livecast worker``).

    Jobs running at ``stop`` get :data:`STOP_TIMEOUT` seconds to finish. While Redis is unreachable the
    worker retries with backoff (1 s doubling to :data:`RETRY_MAX`). Raises ``ConfigurationError`` unless
    ``jobs_url`` is ``redis://``.
    """
    if not is_distributed(settings.jobs_url):
        raise ConfigurationError("livecast worker needs LIVECAST_JOBS_URL=redis://...; memory:// jobs run in serve")
    jobs = create_jobs(settings, deps)
    jobs.broker.is_worker_process = True
    await jobs.start()
    logger.info("livecast worker %s ready: queue %s:queue", worker_name(), settings.jobs_prefix)
    backoff = 1.0
    try:
        while not stop.is_set():
            receiver = Receiver(
                jobs.broker,
                run_startup=False,
                max_async_tasks=settings.worker_concurrency,
                wait_tasks_timeout=STOP_TIMEOUT,
            )
            try:
                await receiver.listen(stop)
                backoff = 1.0
            except Exception as e:  # Redis went away: the traceback once, then one line per attempt
                logger.warning(
                    "the job queue failed (%r); listening again in %.0f s", e, backoff, exc_info=backoff == 1
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, RETRY_MAX)
    finally:
        await jobs.stop()
