"""The LiveKit emulator's state objects (participants, rooms, egresses) and their protobuf infos.

Plain dataclasses the tests inspect; ``info()`` gives what livekit-server answers for each
(``ParticipantInfo``, ``Room``, ``EgressInfo`` of ``livekit.protocol``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from livekit.protocol import egress as proto_egress
from livekit.protocol import models as proto_models

ES = proto_egress.EgressStatus


@dataclass
class Participant:
    identity: str
    sid: str = field(default_factory=lambda: f"PA_{secrets.token_hex(6)}")
    publishing: bool = True
    joined_at: int = field(default_factory=lambda: int(time.time()))

    def info(self) -> proto_models.ParticipantInfo:
        tracks = (
            [proto_models.TrackInfo(sid=f"TR_{self.sid[3:]}", type=proto_models.TrackType.VIDEO)]
            if self.publishing
            else []
        )
        return proto_models.ParticipantInfo(
            sid=self.sid, identity=self.identity, state=proto_models.ParticipantInfo.ACTIVE, tracks=tracks,
            is_publisher=self.publishing, joined_at=self.joined_at,
        )  # fmt: skip


@dataclass
class Room:
    name: str
    empty_timeout: int = 0
    max_participants: int = 0
    metadata: str = ""
    sid: str = field(default_factory=lambda: f"RM_{secrets.token_hex(6)}")
    created_at: int = field(default_factory=lambda: int(time.time()))
    participants: dict[str, Participant] = field(default_factory=dict)

    @property
    def publishers(self) -> int:
        return sum(1 for p in self.participants.values() if p.publishing)

    def info(self, active_recording: bool) -> proto_models.Room:
        return proto_models.Room(
            sid=self.sid, name=self.name, empty_timeout=self.empty_timeout, max_participants=self.max_participants,
            creation_time=self.created_at, metadata=self.metadata, num_participants=len(self.participants),
            num_publishers=self.publishers, active_recording=active_recording,
        )  # fmt: skip


@dataclass
class Egress:
    egress_id: str
    room_name: str
    room_id: str
    urls: list[str]
    layout: str
    options: dict[str, Any]
    """The request's ``advanced`` EncodingOptions as a dict (protobuf JSON names), or the preset name."""
    status: int = ES.EGRESS_STARTING
    error: str = ""
    started_at: int = field(default_factory=time.time_ns)
    ended_at: int = 0

    @property
    def active(self) -> bool:
        return self.status in (ES.EGRESS_STARTING, ES.EGRESS_ACTIVE)

    def info(self) -> proto_egress.EgressInfo:
        failed = self.status == ES.EGRESS_FAILED
        stream_status = (
            proto_egress.StreamInfo.FAILED
            if failed
            else (proto_egress.StreamInfo.ACTIVE if self.active else proto_egress.StreamInfo.FINISHED)
        )
        return proto_egress.EgressInfo(
            egress_id=self.egress_id, room_id=self.room_id, room_name=self.room_name, status=self.status,
            started_at=self.started_at, ended_at=self.ended_at, error=self.error,
            stream_results=[proto_egress.StreamInfo(url=u, status=stream_status, error=self.error) for u in self.urls],
        )  # fmt: skip
