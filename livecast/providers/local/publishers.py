"""One publisher per stream: who may publish a stream's media, decided under the stream's lock.

A stream has at most one publisher. A new authorised publish for a stream that has one takes it over when the
current publisher has sent no media for ``silence`` seconds (a stalled or half-open encoder: OBS reconnects
2-10 s after a network failure while its old TCP connection may still look open to the server). While the
current publisher keeps sending media, the newcomer waits up to ``patience`` seconds for that to change and is
then refused, so two encoders configured with one key do not kick each other out in turn (each would reconnect
and take over again), and concurrent publishes leave exactly one publisher.

MediaMTX's ``overridePublisher`` replaces the current publisher unconditionally; nginx-rtmp's
``drop_idle_publisher`` only drops an idle one. This takes over from an idle one as soon as a new one asks.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Protocol

ALREADY = "this stream already has a publisher"


class PublishRefused(Exception):
    """The publish is not allowed; ``reason`` is sent to the encoder in ``NetStream.Publish.BadName``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class Publisher:
    """One publishing RTMP connection (its writer and the task serving it).

    ``last_media`` is the event-loop time of its last audio or video message (of its start before the first);
    ``began``: the session's media was handed to it (its pipeline started, the reconnect timer cancelled);
    ``started``: it was told ``NetStream.Publish.Start``; ``superseded``: a newer publisher took over (its
    connection is dropped; the newer one ends its pipeline); ``unpublished``: it sent ``FCUnpublish``,
    ``deleteStream`` or ``closeStream`` (a clean stop); ``gone``: its connection has ended."""

    writer: asyncio.StreamWriter
    task: asyncio.Task[None] | None
    last_media: float = field(default_factory=lambda: asyncio.get_running_loop().time())
    began: bool = False
    started: bool = False
    superseded: bool = False
    unpublished: bool = False
    gone: bool = False

    def close(self) -> None:
        """Drop the connection at once (``abort``: a half-open peer would hold a graceful close)."""
        self.writer.transport.abort()

    def silent_for(self, now: float) -> float:
        return now - self.last_media


class Slot(Protocol):
    """What decides a stream's publisher (``StreamSession`` is one): the publisher, whether the stream is ending,
    and a condition on the stream's lock notified when the publisher changes."""

    publisher: Publisher | None
    ending: bool
    released: asyncio.Condition


async def claim(session: Slot, publisher: Publisher, *, silence: float, patience: float) -> Publisher | None:
    """Make ``publisher`` the publisher of ``session``; returns the publisher it took over from (whose connection
    the caller must drop and whose pipeline it must end), or ``None``.

    Call with ``session.lock`` held (the wait releases it, see ``session.released``). Raises ``PublishRefused``
    when the stream is ending, or when the current publisher keeps sending media for ``patience`` seconds."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + patience
    while True:
        if session.ending:
            raise PublishRefused("the stream is over")
        current = session.publisher
        if current is None:
            session.publisher = publisher
            return None
        now = loop.time()
        if current.started and current.silent_for(now) >= silence:
            current.superseded = True
            session.publisher = publisher
            return current
        left = give_up - now
        if left <= 0:
            raise PublishRefused(ALREADY)
        wake = min(left, silence - current.silent_for(now)) if current.started else left
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(wake, 0.01)):
                await session.released.wait()


def release(session: Slot, publisher: Publisher) -> bool:
    """``publisher`` is gone: free the stream for others (with ``session.lock`` held). False if it was not the
    stream's publisher (refused, or taken over)."""
    if session.publisher is not publisher:
        return False
    session.publisher = None
    session.released.notify_all()
    return True
