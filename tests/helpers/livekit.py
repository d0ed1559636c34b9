"""Helpers of the LiveKit broadcast tests (``tests/test_livekit_flow*.py``): settings for a ``livekit`` stream
paired with Mux on the emulators, LiveKit webhook events as the inbox hands them to the domain, and a player's
beacon followed by the viewer count job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from livekit import api as lk_api

from livecast.domain import viewer_counts
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.providers.base import ProviderEvent
from livecast.settings import Settings
from tests.emulators.livekit import LiveKitEmulator, livekit_settings
from tests.emulators.mux import MuxEmulator, mux_settings
from tests.helpers.beacons import player


def paired_with_mux(settings: Settings, lk: LiveKitEmulator, mux: MuxEmulator) -> Settings:
    """``settings`` on both emulators: LiveKit rooms paired with Mux streams, egress idle after 30 s without
    viewers, rooms deleted 20 s after the end, 2 attempts per provider call."""
    return livekit_settings(
        mux_settings(settings, mux), lk, livekit_viewer_provider="mux", livekit_egress_idle_seconds=30,
        livekit_room_delete_seconds=20, provider_retry_attempts=2,
    )  # fmt: skip


async def principal(name: str) -> Principal:
    """A new user (``name``) as the acting principal."""
    user = await ensure_user(name=name, roles=[])
    return Principal(user_id=str(user.id), name=name, roles=frozenset())


def event(kind: str, room: str, **data: Any) -> ProviderEvent:
    """A ProviderEvent shaped like a verified LiveKit webhook, ``data`` in camelCase JSON."""
    event_id = f"EV_{uuid.uuid4().hex[:12]}"
    body = {
        "event": kind,
        "id": event_id,
        "room": {"name": room},
        "createdAt": str(int(datetime.now(UTC).timestamp())),
        **data,
    }
    return ProviderEvent(
        provider="livekit", event_id=event_id, type=kind, object_id=room, occurred_at=datetime.now(UTC), data=body
    )


def publisher(identity: str, tracks: int = 1) -> dict[str, Any]:
    return {
        "sid": f"PA_{identity}",
        "identity": identity,
        "state": "ACTIVE",
        "tracks": [{"sid": f"TR_{i}", "type": "VIDEO"} for i in range(tracks)],
    }


def webhook(kind: str, room: str, *, participant: Any = None, egress: Any = None) -> ProviderEvent:
    """A ProviderEvent as the webhook verifier makes it: a ``livekit.WebhookEvent`` protobuf (participant and
    egress infos taken from the emulator's state) as a dict with proto field names."""
    message = lk_api.WebhookEvent(
        event=kind, id=f"EV_{uuid.uuid4().hex[:12]}", created_at=int(datetime.now(UTC).timestamp())
    )
    message.room.name = room
    if participant is not None:
        message.participant.CopyFrom(participant.info())
    if egress is not None:
        message.egress_info.CopyFrom(egress.info())
    return ProviderEvent(
        provider="livekit", event_id=message.id, type=kind, object_id=room, occurred_at=datetime.now(UTC),
        data=MessageToDict(message, preserving_proto_field_name=True),
    )  # fmt: skip


async def beacon(deps: Deps, stream_id: str, state: str) -> int:
    """One player's beacon (the same player and session each time for a stream, with a genuine session token),
    then the periodic viewer count; returns the stream's viewer count."""
    await player(deps.viewers, stream_id, "v-1").send(state)
    return (await viewer_counts.refresh(deps=deps)).counts[stream_id]
