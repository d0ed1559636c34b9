"""User look-ups."""

from __future__ import annotations

from collections.abc import Sequence

from livecast.domain.errors import NotFound
from livecast.domain.ids import is_uuid
from livecast.domain.models import User


async def users_by_ids(ids: Sequence[str]) -> list[User | None]:
    """Batch look-up for DataLoaders: one query, results in the order of ``ids`` (``None`` if missing)."""
    valid = [i for i in ids if is_uuid(i)]
    found = {str(u.id): u for u in await User.filter(id__in=valid)} if valid else {}
    return [found.get(i) for i in ids]


async def existing_user(user_id: str) -> User:
    """The user with this id, or ``NotFound``."""
    user = await get_user(user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


async def get_user(user_id: str) -> User | None:
    return await User.get_or_none(id=user_id) if is_uuid(user_id) else None
