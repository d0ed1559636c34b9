"""What domain commands need from the outside world, passed explicitly (never module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from livecast.domain.bus import EventBus
from livecast.providers.registry import ProviderRegistry


@dataclass(frozen=True)
class Deps:
    bus: EventBus
    providers: ProviderRegistry
