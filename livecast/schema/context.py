"""Typed GraphQL context: ``Info`` for resolvers' type hints, and the extension that keeps a long-lived
connection's caller current."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from strawberry.extensions import SchemaExtension

from livecast.resolvers.context import RequestContext

Info = strawberry.Info[RequestContext, None]


class RecheckCaller(SchemaExtension):
    """Before each operation, :meth:`RequestContext.recheck`: a websocket's caller is resolved again once the
    user cache may be stale (``LIVECAST_AUTH_CACHE_SECONDS``), so roles, deletion and revocation apply to the
    operations of connections opened before them. Costs nothing for HTTP requests."""

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context.context
        if isinstance(context, RequestContext):
            await context.recheck()
        yield
