"""Turning domain errors into the schema's error shapes: union members for mutations, GraphQL errors
(``extensions.code``) for queries and subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from livecast.domain.errors import DomainError
from livecast.schema.errors import to_error_type, to_graphql_error

T = TypeVar("T")


async def as_result(call: Awaitable[T], wrap: Callable[[T], Any]) -> Any:
    """The mutation's result: ``wrap(await call)``, or the typed error object of a ``DomainError``."""
    try:
        return wrap(await call)
    except DomainError as e:
        return to_error_type(e)


@asynccontextmanager
async def relay_errors() -> AsyncIterator[None]:
    """Inside it, a ``DomainError`` becomes a GraphQL error with ``extensions.code`` (queries, subscriptions)."""
    try:
        yield
    except DomainError as e:
        raise to_graphql_error(e) from e
