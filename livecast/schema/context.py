"""Typed GraphQL context: ``Info`` for resolvers' type hints, and the context factory used by the app."""

from __future__ import annotations

import strawberry

from livecast.resolvers.context import RequestContext

Info = strawberry.Info[RequestContext, None]
