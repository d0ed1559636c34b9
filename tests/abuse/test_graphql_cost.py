"""Attack 1: documents whose validation or execution cost is far larger than their size."""

from __future__ import annotations

import time

from tests.abuse.conftest import Target, assert_graphql_refused


def fragment_bomb(levels: int = 30) -> str:
    """Each fragment spreads the next one twice: 2^levels paths for a walker that does not memoise."""
    parts = ["query { ...F0 }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}")
    parts.append(f"fragment F{levels} on Query {{ me {{ id }} }}")
    return "\n".join(parts)


async def test_fragment_bomb_is_refused_fast(target: Target) -> None:
    async with target.attack():
        started = time.monotonic()
        status, body = await target.graphql(fragment_bomb(), timeout=5)
        assert_graphql_refused(status, body, time.monotonic() - started)
