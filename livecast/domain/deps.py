"""What domain commands need from the outside world, passed explicitly (never module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from livecast.domain.bus import EventBus
from livecast.domain.ratelimit import RateLimits
from livecast.domain.viewers import Viewers
from livecast.providers.registry import ProviderRegistry


@dataclass(frozen=True)
class Deps:
    bus: EventBus
    providers: ProviderRegistry
    limits: RateLimits = field(default_factory=RateLimits)
    """Per-user rate limits (in-process by default; Redis-backed when ``LIVECAST_RATE_LIMIT_URL`` is set)."""
    reaction_emojis: tuple[str, ...] = ()
    """Allowed reaction emoji (``LIVECAST_REACTION_EMOJIS``); empty: the defaults of ``chat_text``."""
    viewers: Viewers = field(default_factory=Viewers)
    """Playback beacons and concurrent viewers (memory store by default; Redis with ``LIVECAST_VIEWERS_URL``)."""
    playback_token_ttl_seconds: int = 3600
    """Lifetime of a ``SIGNED`` stream's playback token, seconds (``LIVECAST_PLAYBACK_TOKEN_TTL_SECONDS``)."""
    max_open_streams_per_owner: int = 20
    """Streams one owner may have that are not over (``LIVECAST_MAX_OPEN_STREAMS_PER_OWNER``; admins exempt)."""
