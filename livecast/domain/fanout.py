"""Per-event work done once per process, whatever the number of subscribers.

Every subscriber of a channel receives the same event, so whatever a subscription derives from the event alone
is a ``prepare`` step of the bus (:meth:`livecast.domain.bus.EventBus.subscribe`): the bus runs it once per
event for all subscribers that pass the same function. With 10,000 subscribers of a stream, a status change
costs one database read in each process instead of 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass

from livecast.domain import streams
from livecast.domain.events import Event, StreamStatusChanged
from livecast.domain.models import Stream, StreamStatus


@dataclass(frozen=True, slots=True)
class StreamChange:
    event: StreamStatusChanged
    stream: Stream | None
    """As persisted, with the status of ``event``; ``None`` if the stream no longer exists. Shared by every
    subscriber of the event: read-only."""


async def stream_after_change(event: Event) -> StreamChange | None:
    """The stream after a ``StreamStatusChanged`` (``None`` for any other event)."""
    if not isinstance(event, StreamStatusChanged):
        return None
    stream = await streams.get_stream(event.stream_id)
    if stream is not None:
        stream.status = StreamStatus(event.status)
    return StreamChange(event, stream)
