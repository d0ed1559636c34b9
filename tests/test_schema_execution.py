"""livecast's executor and error masking (``livecast.schema.execution``), on a small schema of their own."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncGenerator

import pytest
import strawberry
from graphql import GraphQLError

from livecast.schema.error_policy import CodedErrors
from livecast.schema.execution import LivecastExecutor
from livecast.schema.root import LivecastSchema


@strawberry.type
class Item:
    n: int
    label: str


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> int:
        return 1

    @strawberry.field
    def broken(self) -> int | None:
        raise RuntimeError("database password is hunter2")

    @strawberry.field
    def refused(self) -> int | None:
        raise GraphQLError("not yours", extensions={"code": "FORBIDDEN"})


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def items(self, count: int) -> AsyncGenerator[Item, None]:
        for n in range(count):
            yield Item(n=n, label=f"item {n}")

    @strawberry.subscription
    async def failing(self) -> AsyncGenerator[Item, None]:
        yield Item(n=0, label="first")
        raise RuntimeError("database password is hunter2")


def schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=LivecastExecutor,
        extensions=[CodedErrors],
    )  # fmt: skip


async def test_unexpected_errors_are_masked_and_coded_ones_kept() -> None:
    result = await schema().execute("{ ok broken refused }")
    errors = sorted(((e.extensions or {}).get("code"), e.message) for e in result.errors or [])
    assert errors == [("FORBIDDEN", "not yours"), ("INTERNAL_SERVER_ERROR", "Unexpected error.")]
    assert result.data == {"ok": 1, "broken": None, "refused": None}

    stream = await schema().subscribe("subscription { failing { n } }")
    results = [r async for r in stream]  # type: ignore[union-attr]
    assert results[0].data == {"failing": {"n": 0}} and not results[0].errors
    assert [(e.message, e.extensions) for e in results[-1].errors or []] == [
        ("Unexpected error.", {"code": "INTERNAL_SERVER_ERROR"})
    ]


async def test_a_long_subscription_does_not_grow_with_its_events() -> None:
    """graphql-core 3.3 kept ~18 objects per event for the subscription's life; now each event's go with it."""
    stream = await schema().subscribe("subscription { items(count: 3000) { n label } }")
    seen, counts = 0, []
    async for result in stream:  # type: ignore[union-attr]
        assert not result.errors
        seen += 1
        if seen in (500, 3000):  # measured while the subscription is alive
            gc.collect()
            counts.append(len(gc.get_objects()))
    assert seen == 3000
    assert counts[1] - counts[0] < 500  # 2,500 events: about 30,000 objects more before


async def test_a_defect_is_logged_once_with_its_traceback_and_refusals_not_as_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = LivecastSchema(query=Query, execution_context_class=LivecastExecutor, extensions=[CodedErrors])
    caplog.set_level(logging.DEBUG)
    result = await schema.execute("{ broken refused }")
    assert sorted((e.extensions or {}).get("code") for e in result.errors or []) == [
        "FORBIDDEN",
        "INTERNAL_SERVER_ERROR",
    ]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and errors[0].exc_info and "hunter2" in str(errors[0].exc_info[1])
    assert "hunter2" not in str(result.errors)
