"""Transactions cancelled at any point give back what they took (livecast.domain.db_engines; issue #11).

Tortoise's own transaction contexts leak the SQLite client's lock (PostgreSQL: a pool connection) when the task
is cancelled while ``BEGIN`` is awaited, after which every query waits for ever."""

from __future__ import annotations

import asyncio

from tortoise import connections
from tortoise.transactions import in_transaction

from livecast.domain.deps import Deps
from livecast.domain.models import User

ATTEMPTS = 200


async def test_a_cancelled_transaction_never_blocks_the_next_query(deps: Deps) -> None:
    async def write(i: int) -> None:
        async with in_transaction() as conn:
            await User.create(name=f"cancelled-{i}", using_db=conn)

    for i in range(ATTEMPTS):
        task = asyncio.create_task(write(i))
        for _ in range(i % 10):  # cancel at a different await each time: lock, BEGIN, INSERT, COMMIT
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with asyncio.timeout(5):  # a leaked lock or pool connection makes this wait for ever
            async with in_transaction() as conn:
                await User.create(name=f"after-{i}", using_db=conn)
    assert await User.filter(name__startswith="after-").count() == ATTEMPTS
    assert await User.filter(name__startswith="cancelled-").count() < ATTEMPTS  # some were cancelled


async def test_the_clients_are_the_cancellation_safe_ones(deps: Deps) -> None:
    client = type(connections.get("default")).__name__
    assert client in ("SafeSqliteClient", "SafeAsyncpgClient")
