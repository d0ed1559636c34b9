"""What a chat subscriber resuming by ``afterSequence`` may have missed about the messages it already has.

Replaying the messages after ``afterSequence`` is not enough: while it was away, messages it has may have
been deleted, and the pin may have changed. Deletions are found by time (after the creation of the last
message it saw), pin changes in the moderation log (``PIN``/``UNPIN`` are logged before they are published,
so a change a subscriber missed live is always in the log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from livecast.domain import moderation
from livecast.domain.chat_models import ChatMessage, ChatRoom
from livecast.domain.events import ChatMessageDeleted

CATCH_UP_WINDOW = 10_000
"""Messages before a resumed subscriber's ``afterSequence`` whose deletion it is told of (the latest ones)."""
CATCH_UP_SLACK = timedelta(seconds=2)
"""Clock difference between API processes allowed for when telling what happened after a message."""


@dataclass(frozen=True)
class PinState:
    """The stream's pinned message now (``message_id`` ``None``: none), read at ``at`` (ISO 8601)."""

    stream_id: str
    message_id: str | None
    at: str


async def _pin_state(stream_id: str) -> PinState:
    room = await ChatRoom.get_or_none(stream_id=stream_id)
    pinned = room.pinned_message_id if room else None
    return PinState(stream_id=stream_id, message_id=str(pinned) if pinned else None, at=datetime.now(UTC).isoformat())


async def missed_changes(
    stream_id: str, sequence: int, *, limit: int = 1000
) -> tuple[list[ChatMessageDeleted], PinState | None]:
    """What a subscriber that saw every event up to message ``sequence`` may have missed about messages it
    already has: deletions (of the last ``CATCH_UP_WINDOW`` messages up to ``sequence``, oldest first, at
    most ``limit``) and, if the pin changed, the pin's state now. "Since" is from that message's creation
    time (less ``CATCH_UP_SLACK``), so a deletion it already saw live may come again (both are idempotent).
    For ``sequence`` 0 (it has nothing yet): the pinned message, if there is one."""
    if sequence <= 0:
        state = await _pin_state(stream_id)
        return [], state if state.message_id is not None else None
    seen = await ChatMessage.filter(stream_id=stream_id, sequence=sequence).only("created_at").first()
    if seen is None:
        return [], None
    since = seen.created_at - CATCH_UP_SLACK
    rows = await (
        ChatMessage.filter(stream_id=stream_id, sequence__lte=sequence, sequence__gt=sequence - CATCH_UP_WINDOW, deleted_at__gt=since)
        .order_by("deleted_at").limit(limit).only("id", "sequence", "deleted_at")
    )  # fmt: skip
    deleted = [
        ChatMessageDeleted(stream_id=stream_id, message_id=str(m.id), sequence=m.sequence, at=m.deleted_at.isoformat())
        for m in rows
    ]
    if not await moderation.pin_changed_since(stream_id, since):
        return deleted, None
    return deleted, await _pin_state(stream_id)
