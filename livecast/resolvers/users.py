"""User resolvers."""

from __future__ import annotations

from livecast.domain import users
from livecast.domain.models import User
from livecast.resolvers.context import RequestContext


async def me(ctx: RequestContext) -> User | None:
    principal = ctx.actor
    return await users.get_user(principal.user_id) if principal is not None else None
