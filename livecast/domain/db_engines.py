"""Tortoise database clients whose transactions survive cancellation (the SQLite hang of issue #11).

Tortoise 1.1.9 opens a transaction in two awaits, and a task cancelled between them leaks what the first one
took, because ``__aexit__`` never runs for a failed ``__aenter__``:

- SQLite (``SqliteTransactionContext``): the client's one ``asyncio.Lock`` is acquired, then ``BEGIN`` is
  awaited. Cancelled there, the lock stays locked forever (and aiosqlite's thread may still run the ``BEGIN``):
  every later query of the process waits on it. ``livecast serve`` then answers ``/healthz`` (no database)
  but no GraphQL query, idle, with streams left ``LIVE``. The ingest cancels a publish's health task when its
  encoder goes (``StreamSession.end_publish``), and every few seconds that task is inside
  :meth:`livecast.domain.monitoring.HealthMonitor.record`'s transaction: ``benchmarks/ingest.py`` (4 encoders
  dropping at once, as their health sample is due) hung in 2 of 12 runs here. Any cancelled caller can do it
  (a closed websocket, a timeout).
- PostgreSQL (``TransactionContextPooled``): a pool connection is acquired, then ``BEGIN`` is awaited;
  cancelled there, the connection is never released, and after ``maxsize`` (5) such leaks every query waits.

Here the same clients open transactions so that a failure or cancellation during ``BEGIN`` gives back what was
taken: SQLite queues a ``ROLLBACK`` on aiosqlite's thread (it runs after the ``BEGIN`` if that was sent; a
no-op otherwise) and then releases the lock; PostgreSQL returns the connection to the pool (asyncpg rolls it
back). The clean-up runs shielded, so a second cancellation cannot interrupt it either. Everything else is
Tortoise's. :func:`engine_config` picks these clients in :func:`livecast.domain.db.tortoise_config`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.asyncpg.client import TransactionWrapper as AsyncpgTransactionWrapper
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient, TransactionContextPooled
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionContext, SqliteTransactionWrapper
from tortoise.connection import get_connections

ENGINE = __name__
"""The engine module named in the Tortoise config (it provides :func:`get_client_class`)."""
REPLACED = {"tortoise.backends.sqlite": "sqlite", "tortoise.backends.asyncpg": "postgres"}
"""Tortoise engines that get a cancellation-safe client here (others are used as they are)."""

_cleanups: set[asyncio.Task[None]] = set()
"""Clean-ups still running after their caller was cancelled again (kept referenced until done)."""


async def _shielded(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run ``cleanup`` to its end even if the awaiting task is cancelled (again) meanwhile."""
    task = asyncio.ensure_future(cleanup)
    _cleanups.add(task)
    task.add_done_callback(_cleanups.discard)
    await asyncio.shield(task)


class SafeSqliteTransaction(SqliteTransactionContext):
    """``SqliteTransactionContext`` that gives the lock back when ``BEGIN`` fails or is cancelled."""

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            await _shielded(self._abandon())
            raise
        return self.connection

    async def _abandon(self) -> None:
        try:
            sqlite = self.connection._connection
            if sqlite is not None:  # queued after the BEGIN if it was sent (one thread, in order)
                await sqlite.rollback()
        finally:
            self._trxlock.release()


class SafeSqliteClient(SqliteClient):
    """Tortoise's SQLite client with :class:`SafeSqliteTransaction`."""

    def _in_transaction(self) -> SafeSqliteTransaction:
        return SafeSqliteTransaction(SqliteTransactionWrapper(self), self._lock)


class SafePooledTransaction(TransactionContextPooled):
    """``TransactionContextPooled`` that returns the connection when ``BEGIN`` fails or is cancelled."""

    async def __aenter__(self) -> TransactionalDBClient:
        await self.ensure_connection()
        pool = self.client._parent._pool
        self.client._connection = await pool.acquire()
        try:
            self.token = get_connections().set(self.connection_name, self.client)
            try:
                await self.client.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            await _shielded(pool.release(self.client._connection))  # asyncpg rolls it back
            raise
        return self.client


class SafeAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client with :class:`SafePooledTransaction`."""

    def _in_transaction(self) -> SafePooledTransaction:
        return SafePooledTransaction(AsyncpgTransactionWrapper(self), self._pool_init_lock)


def get_client_class(db_info: dict[str, Any]) -> type[BaseDBAsyncClient]:
    """Tortoise's engine hook: the client for an :func:`engine_config` connection (SQLite's credentials
    have a ``file_path``)."""
    return SafeSqliteClient if "file_path" in db_info.get("credentials", {}) else SafeAsyncpgClient


def engine_config(database_url: str) -> str | dict[str, Any]:
    """The Tortoise connection config for ``database_url``: Tortoise's own parse of the URL, with this module as
    the engine for SQLite and asyncpg (PostgreSQL); other URLs are returned as they are."""
    info = expand_db_url(database_url)
    if info.get("engine") not in REPLACED:
        return database_url
    return {**info, "engine": ENGINE}
