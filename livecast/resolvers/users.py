"""User resolvers."""

from __future__ import annotations

from livecast.domain.auth import Principal
from livecast.resolvers.context import RequestContext


def me(ctx: RequestContext) -> Principal | None:
    """The signed-in caller (name and roles as read from their user row, at most ``LIVECAST_AUTH_CACHE_SECONDS``
    old), ``None`` when anonymous; ``Unauthenticated`` when the request's token was refused."""
    return ctx.actor
