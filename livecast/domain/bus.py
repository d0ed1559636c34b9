"""The EventBus port: publish typed events to channels, subscribe with a delivery contract.

Two contracts, because Redis pub/sub (like any broker without replay) can lose messages while a process is
disconnected from it:

* ``GAUGE`` (viewer counts, health): only the latest value matters. The subscriber's queue holds one item;
  a newer value replaces an unread older one. Through a broker outage the subscription stays open and simply
  resumes with the next value.
* ``LOSSLESS`` (status changes, alerts, chat): every event matters. The queue is bounded; a subscriber that
  falls that far behind is ended with :class:`SubscriberTooSlow` rather than growing memory. When the broker
  connection was lost and restored, the subscriber receives a :class:`Gap`: events may have been missed, so
  it must refetch (chat resumes from its last sequence number).

Implementations: :mod:`livecast.bus` (broadcaster backends ``memory://`` and ``redis://``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from livecast.domain.errors import DomainError, ErrorCode
from livecast.domain.events import Event


class Delivery(str, Enum):
    GAUGE = "GAUGE"
    LOSSLESS = "LOSSLESS"


@dataclass(frozen=True)
class Gap:
    """Events on ``channel`` may have been missed (the broker connection was lost and restored)."""

    channel: str


class EventsMissed(DomainError):
    """A lossless subscription saw a :class:`Gap`: refetch, then subscribe again."""

    code = ErrorCode.EVENTS_MISSED


class SubscriberTooSlow(DomainError):
    """A lossless subscriber fell more than its queue size behind and was ended."""

    code = ErrorCode.SLOW_CONSUMER


Prepare = Callable[[Event], Awaitable[Any]]
"""Derives what subscribers receive from an event (e.g. reads the stream once for all of them)."""


class EventBus(Protocol):
    async def publish(self, channels: Iterable[str], event: Event) -> None:
        """Publish once to each channel. Never raises for a broker outage (the event is then lost for other
        processes, and their subscribers get a ``Gap`` when the broker is back)."""

    async def publish_many(self, events: Sequence[tuple[Iterable[str], Event]]) -> None:
        """``publish`` each (channels, event) in order, in one round trip to the broker where it can
        (a Redis pipeline). Never raises for a broker outage, like ``publish``."""

    def subscribe(
        self, channel: str, *, delivery: Delivery = Delivery.LOSSLESS, prepare: Prepare | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        """``async with bus.subscribe(ch) as events: async for item in events`` (``Event`` or ``Gap``).

        The iterator ends when the bus closes; a too-slow lossless subscriber gets ``SubscriberTooSlow``.
        With ``prepare``, each item is ``await prepare(event)`` instead (a ``Gap`` is passed as is), computed
        once per event for every subscriber of the channel in this process that passes the same function;
        if it raises, those subscriptions end with its exception."""

    def subscriber_count(self, channel: str) -> int:
        """Subscribers of ``channel`` in this process."""
