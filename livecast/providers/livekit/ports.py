"""What livecast needs from LiveKit beyond the stream port: room tokens, RTMP egress, participants.

Provider-neutral dataclasses (no SDK type), so the domain can use them without importing ``livekit``.
:class:`RoomProvider` is implemented by :class:`~livecast.providers.livekit.provider.LiveKitProvider`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

EGRESS_ACTIVE = frozenset({"STARTING", "ACTIVE"})
"""Egress statuses in which LiveKit is (about to be) pushing media."""
EGRESS_FAILED = frozenset({"FAILED", "ABORTED", "LIMIT_REACHED"})
"""Egress statuses that mean the push broke (HLS viewers lose the stream)."""


@dataclass(frozen=True)
class RoomToken:
    """A LiveKit access token (HS256 JWT, video grant for one room) and where to use it.

    ``url`` is the LiveKit server URL for the client SDK (``wss://...``), ``expires_at`` UTC.
    """

    token: str
    url: str
    room: str
    identity: str
    can_publish: bool
    expires_at: datetime


@dataclass(frozen=True)
class RoomParticipant:
    """A participant of a room (LiveKit ``ParticipantInfo``); ``publishing`` when it has published tracks."""

    identity: str
    sid: str
    publishing: bool


@dataclass(frozen=True)
class EgressState:
    """A LiveKit egress (``EgressInfo``): ``status`` is ``STARTING | ACTIVE | ENDING | COMPLETE | FAILED |
    ABORTED | LIMIT_REACHED`` (LiveKit's ``EGRESS_*`` without the prefix); ``urls`` its RTMP outputs."""

    egress_id: str
    room: str
    status: str
    urls: tuple[str, ...] = ()
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.status in EGRESS_ACTIVE

    @property
    def failed(self) -> bool:
        return self.status in EGRESS_FAILED


@dataclass(frozen=True)
class BroadcastPolicy:
    """How a LiveKit broadcast feeds its HLS viewers (from ``LIVECAST_LIVEKIT_*`` settings).

    ``viewer_provider`` names the paired provider (``mux`` or ``local``); ``egress_start`` is ``FIRST_VIEWER``
    or ``GO_LIVE``; ``egress_idle_seconds`` how long viewers stay at zero before egress stops;
    ``room_delete_seconds`` how long after the end the room is deleted; ``egress_extra_urls`` more RTMP(S)
    outputs of every egress (templates with ``{stream_key}`` and ``{room}``; secret, never in a repr).
    """

    viewer_provider: str
    egress_start: str
    egress_idle_seconds: float
    room_delete_seconds: float
    egress_extra_urls: tuple[str, ...] = field(default=(), repr=False)


@runtime_checkable
class RoomProvider(Protocol):
    """LiveKit room capabilities. Every async method raises only ``ProviderError`` subclasses
    (``ProviderNotFound`` for an unknown room or egress, ``ProviderUnavailable`` when LiveKit is down)."""

    name: str
    policy: BroadcastPolicy

    def publish_token(self, room: str, identity: str, *, name: str | None = None) -> RoomToken:
        """Join + publish + subscribe + data for ``room``; valid ``livekit_token_ttl_seconds``."""

    def subscribe_token(self, room: str, identity: str, *, name: str | None = None) -> RoomToken:
        """Join + subscribe only (no publish, no data) for ``room``."""

    def webrtc_fallback(self, room: str) -> str:
        """A hint for players to watch over WebRTC (``<livekit url>?room=<room>``; join with a subscribe token)."""

    async def start_egress(self, room: str, rtmp_urls: Sequence[str]) -> EgressState:
        """Start a RoomComposite egress pushing the room to every RTMP(S) URL (layout/encoding from settings)."""

    async def stop_egress(self, egress_id: str) -> EgressState: ...

    async def egress_status(self, egress_id: str) -> EgressState: ...

    async def list_egress(self, room: str, *, active_only: bool = False) -> list[EgressState]: ...

    async def list_participants(self, room: str) -> list[RoomParticipant]: ...

    async def delete_room(self, room: str) -> None:
        """Delete the room, disconnecting everyone; a room that is already gone is not an error."""
