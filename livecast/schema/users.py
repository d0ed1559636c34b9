"""User types and the user part of Query."""

from __future__ import annotations

import strawberry

from livecast.domain import models
from livecast.resolvers import users as resolve
from livecast.schema.context import Info


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    roles: list[str]

    @classmethod
    def from_model(cls, m: models.User) -> User:
        return cls(id=strawberry.ID(str(m.id)), name=m.name, roles=list(m.roles))


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user, or null without a token.")
    async def me(self, info: Info) -> User | None:
        m = await resolve.me(info.context)
        return User.from_model(m) if m else None
