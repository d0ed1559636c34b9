"""Emoji reactions at a screen position: persisted (one row each, so no count is lost), counted, published.

Positions are percentages of the player's width and height (0-100), so overlays of any size can place them.
"""

from __future__ import annotations

from tortoise.expressions import F
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from livecast.domain import moderation
from livecast.domain.auth import Principal
from livecast.domain.chat import writable_stream
from livecast.domain.chat_models import ChatRoom, Reaction
from livecast.domain.chat_text import DEFAULT_REACTIONS, check_position, check_reaction
from livecast.domain.deps import Deps
from livecast.domain.events import REACTIONS, ReactionPosted, stream_channel
from livecast.domain.ratelimit import REACTIONS as REACTION_LIMIT


async def send_reaction(
    *, deps: Deps, actor: Principal | None, stream_id: str, emoji: str, position_x: float, position_y: float
) -> ReactionPosted:
    """Store one reaction and publish it. Refusals as for chat (disabled, banned, over), ``ValidationFailed``
    (``emoji`` not one allowed emoji, ``positionX``/``positionY`` outside 0-100) and ``RateLimited``
    (``LIVECAST_REACTION_RATE_LIMIT``; ``..._PRIVILEGED`` for the stream's owner, moderators and admins)."""
    actor, stream, privileged = await writable_stream(actor, stream_id, what="reactions")
    allowed = check_reaction(emoji, deps.reaction_emojis or DEFAULT_REACTIONS)
    x, y = check_position(position_x, "positionX"), check_position(position_y, "positionY")
    await deps.limits.check(REACTION_LIMIT, actor.user_id, privileged=privileged)
    await moderation.chat_room(str(stream.id))
    async with in_transaction() as conn:
        row = await Reaction.create(
            stream_id=stream.id, user_id=actor.user_id, emoji=allowed, position_x=x, position_y=y, using_db=conn
        )
        await ChatRoom.filter(stream_id=stream.id).using_db(conn).update(reaction_count=F("reaction_count") + 1)
    event = ReactionPosted(
        stream_id=str(stream.id), user_id=actor.user_id, emoji=allowed, position_x=x, position_y=y,
        at=row.created_at.isoformat(),
    )  # fmt: skip
    await deps.bus.publish([stream_channel(str(stream.id), REACTIONS)], event)
    return event


async def reaction_counts(stream_ids: list[str]) -> list[dict[str, int]]:
    """DataLoader batch: reactions per emoji over each whole stream, in key order (one query)."""
    rows = (
        await Reaction.filter(stream_id__in=list(stream_ids)).annotate(n=Count("id"))
        .group_by("stream_id", "emoji").values("stream_id", "emoji", "n")
    )  # fmt: skip
    found: dict[str, dict[str, int]] = {}
    for row in rows:
        found.setdefault(str(row["stream_id"]), {})[row["emoji"]] = row["n"]
    return [found.get(i, {}) for i in stream_ids]
