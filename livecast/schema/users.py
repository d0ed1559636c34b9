"""User types and the user part of Query."""

from __future__ import annotations

import strawberry

from livecast.domain import models
from livecast.domain.auth import Principal
from livecast.resolvers import users as resolve
from livecast.schema.context import Info


@strawberry.type(description="A user as everyone sees them (chat authors, stream owners, moderators).")
class User:
    id: strawberry.ID
    name: str

    @classmethod
    def from_model(cls, m: models.User) -> User:
        return cls(id=strawberry.ID(str(m.id)), name=m.name)


@strawberry.type(description="The signed-in user, with what only they may see of themselves.")
class Me:
    id: strawberry.ID
    name: str
    roles: list[str] = strawberry.field(description="Role names from the user's record, e.g. admin.")

    @classmethod
    def from_principal(cls, p: Principal) -> Me:
        return cls(id=strawberry.ID(p.user_id), name=p.name, roles=sorted(p.roles))


@strawberry.type
class UserQuery:
    @strawberry.field(
        description="The signed-in user, or null without a token; an UNAUTHENTICATED error when the token is "
        "invalid, expired or revoked, or its user no longer exists."
    )
    def me(self, info: Info) -> Me | None:
        p = resolve.me(info.context)
        return Me.from_principal(p) if p else None
