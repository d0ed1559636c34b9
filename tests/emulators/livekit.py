"""A local LiveKit server emulator: the Twirp RoomService and Egress endpoints that ``livekit-api`` calls.

Served by uvicorn inside the test's event loop; the REAL ``livekit.api.LiveKitAPI`` talks to it. It behaves
as livekit-server does where livecast depends on it:

* Twirp routes ``POST /twirp/livekit.<Service>/<Method>``, protobuf or JSON bodies, Twirp JSON errors, and
  ``Authorization: Bearer <JWT>`` checked with livekit-server's grants: CreateRoom/DeleteRoom need
  ``roomCreate``, ListRooms ``roomList``, ListParticipants/RemoveParticipant ``roomAdmin`` for that ``room``,
  every Egress call ``roomRecord`` (codec, tokens, grants and webhook signing: :mod:`tests.emulators.livekit_twirp`;
  participants, rooms and egresses: :mod:`tests.emulators.livekit_state`).

State is plain Python, inspectable and drivable by the test: :meth:`LiveKitEmulator.join` / :meth:`leave`
simulate participants, :meth:`fail_egress` an egress that breaks, ``egress_start_error`` a refused start,
``available = False`` an outage (503). Every egress keeps the RTMP URLs it was asked to push to.

Webhooks: with ``webhook_urls`` set, room, participant, track and egress changes are POSTed as LiveKit does
(``application/webhook+json``, a protobuf-JSON ``WebhookEvent``, signed), in order, from a background task; ``webhooks_sent``
keeps ``(event, HTTP status)`` and :meth:`webhooks_idle` waits until the queue is empty.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from google.protobuf import json_format
from google.protobuf.message import Message
from livekit.protocol import egress as proto_egress
from livekit.protocol import room as proto_room
from livekit.protocol import webhook as proto_webhook
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livecast.settings import Settings
from tests.emulators.livekit_state import ES, Egress, Participant, Room
from tests.emulators.livekit_twirp import (
    TwirpFailure,
    bearer_claims,
    decode,
    encode,
    require,
    require_admin,
    webhook_headers,
)
from tests.emulators.serving import start_serving, stop_serving
from tests.helpers.processes import free_port

__all__ = ["Egress", "LiveKitEmulator", "Participant", "Room", "livekit_settings", "running_livekit_emulator"]


@dataclass
class LiveKitEmulator:
    """The emulator's state. ``url`` is the server URL to configure (``http://127.0.0.1:<port>``)."""

    api_key: str = field(default_factory=lambda: f"API{secrets.token_hex(6)}")
    api_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    url: str = ""
    rooms: dict[str, Room] = field(default_factory=dict)
    egresses: dict[str, Egress] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    """Every accepted call as ``Service/Method`` (in order), for assertions."""
    rejected: list[tuple[str, str, str]] = field(default_factory=list)
    """Every refused call: ``(Service/Method, code, msg)``."""
    available: bool = True
    """``False``: every call answers 503 ``unavailable`` (an outage)."""
    egress_start_error: tuple[str, str] | None = None
    """When set, StartRoomCompositeEgress fails with this ``(code, msg)`` (e.g. no egress worker)."""
    webhook_urls: list[str] = field(default_factory=list)
    """Where webhooks go (LiveKit's ``webhook.urls``); none: no webhooks."""
    webhooks_sent: list[tuple[str, int]] = field(default_factory=list)
    """Every webhook delivered: ``(event, HTTP status)`` (status 0: the request failed)."""
    _outbox: asyncio.Queue[proto_webhook.WebhookEvent] | None = None
    _sender: asyncio.Task[None] | None = None

    # --- webhooks -------------------------------------------------------------------------------------
    def _emit(self, kind: str, room: Room | None = None, **parts: Message) -> None:
        if not self.webhook_urls:
            return
        event = proto_webhook.WebhookEvent(event=kind, id=f"EV_{secrets.token_hex(8)}", created_at=int(time.time()))
        if room is not None:
            event.room.CopyFrom(room.info(bool(self.active_egresses(room.name))))
        for name, message in parts.items():
            getattr(event, name).CopyFrom(message)
        if self._outbox is None:
            self._outbox = asyncio.Queue()
            self._sender = asyncio.get_running_loop().create_task(self._send_all(self._outbox))
        self._outbox.put_nowait(event)

    async def _send_all(self, outbox: asyncio.Queue[proto_webhook.WebhookEvent]) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                event = await outbox.get()
                body = json_format.MessageToJson(event).encode()
                headers = webhook_headers(body, self.api_key, self.api_secret)
                for url in self.webhook_urls:
                    try:
                        status = (await http.post(url, content=body, headers=headers)).status_code
                    except httpx.HTTPError:
                        status = 0
                    self.webhooks_sent.append((event.event, status))
                outbox.task_done()

    async def webhooks_idle(self) -> None:
        """Wait until every webhook emitted so far was delivered (or failed)."""
        if self._outbox is not None:
            await self._outbox.join()

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)

    # --- test drivers -------------------------------------------------------------------------------------
    def join(self, room: str, identity: str, *, publish: bool = True) -> Participant:
        """A participant connects to ``room`` (which must exist), publishing tracks unless ``publish=False``."""
        participant = Participant(identity=identity, publishing=publish)
        self.rooms[room].participants[identity] = participant
        self._emit("participant_joined", self.rooms[room], participant=participant.info())
        if publish:
            info = participant.info()
            self._emit("track_published", self.rooms[room], participant=info, track=info.tracks[0])
        return participant

    def leave(self, room: str, identity: str) -> None:
        participant = self.rooms[room].participants.pop(identity)
        self._emit("participant_left", self.rooms[room], participant=participant.info())

    def fail_egress(self, egress_id: str, error: str = "rtmp output failed: connection refused") -> None:
        """The egress breaks (status ``EGRESS_FAILED`` with ``error``), as when the RTMP target refuses it."""
        egress = self.egresses[egress_id]
        egress.status, egress.error, egress.ended_at = ES.EGRESS_FAILED, error, time.time_ns()
        self._emit("egress_ended", egress_info=egress.info())

    def active_egresses(self, room: str | None = None) -> list[Egress]:
        return [e for e in self.egresses.values() if e.active and (room is None or e.room_name == room)]

    # --- Twirp handlers -----------------------------------------------------------------------------------
    def _room(self, name: str) -> Room:
        if not name:
            raise TwirpFailure("invalid_argument", "room name is required")
        if name not in self.rooms:
            raise TwirpFailure("not_found", "requested room does not exist")
        return self.rooms[name]

    def create_room(self, req: proto_room.CreateRoomRequest, claims: dict[str, Any]) -> Message:
        require(claims, "roomCreate")
        if not req.name:
            raise TwirpFailure("invalid_argument", "room name is required")
        if len(req.name) > 256:
            raise TwirpFailure("invalid_argument", "room name exceeds 256 characters")
        if req.name not in self.rooms:
            self.rooms[req.name] = Room(req.name, req.empty_timeout, req.max_participants, req.metadata)
            self._emit("room_started", self.rooms[req.name])
        room = self.rooms[req.name]
        return room.info(bool(self.active_egresses(room.name)))

    def list_rooms(self, req: proto_room.ListRoomsRequest, claims: dict[str, Any]) -> Message:
        require(claims, "roomList")
        rooms = [r for r in self.rooms.values() if not req.names or r.name in req.names]
        return proto_room.ListRoomsResponse(rooms=[r.info(bool(self.active_egresses(r.name))) for r in rooms])

    def delete_room(self, req: proto_room.DeleteRoomRequest, claims: dict[str, Any]) -> Message:
        require(claims, "roomCreate")
        room = self._room(req.room)
        del self.rooms[req.room]
        for egress in self.active_egresses(req.room):  # the room is gone: its egress ends
            egress.status, egress.ended_at = ES.EGRESS_COMPLETE, time.time_ns()
            self._emit("egress_ended", egress_info=egress.info())
        self._emit("room_finished", room)
        return proto_room.DeleteRoomResponse()

    def list_participants(self, req: proto_room.ListParticipantsRequest, claims: dict[str, Any]) -> Message:
        require_admin(claims, req.room)
        room = self._room(req.room)
        return proto_room.ListParticipantsResponse(participants=[p.info() for p in room.participants.values()])

    def remove_participant(self, req: proto_room.RoomParticipantIdentity, claims: dict[str, Any]) -> Message:
        require_admin(claims, req.room)
        room = self._room(req.room)
        if req.identity not in room.participants:
            raise TwirpFailure("not_found", "participant not found")
        participant = room.participants.pop(req.identity)
        self._emit("participant_left", room, participant=participant.info())
        return proto_room.RemoveParticipantResponse()

    def start_room_composite_egress(
        self, req: proto_egress.RoomCompositeEgressRequest, claims: dict[str, Any]
    ) -> Message:
        require(claims, "roomRecord")
        room = self._room(req.room_name)
        outputs = [*req.stream_outputs, *([req.stream] if req.HasField("stream") else [])]
        urls = [url for output in outputs for url in output.urls]
        if not urls and not req.file_outputs and not req.segment_outputs:
            raise TwirpFailure("invalid_argument", "no outputs provided")
        for url in urls:
            if not url.startswith(("rtmp://", "rtmps://")):
                raise TwirpFailure("invalid_argument", f"invalid url {url!r}: stream output must be rtmp(s)")
        if self.egress_start_error is not None:
            raise TwirpFailure(*self.egress_start_error)
        options: dict[str, Any] = (
            json_format.MessageToDict(req.advanced) if req.HasField("advanced") else {"preset": req.preset}
        )
        egress = Egress(f"EG_{secrets.token_hex(6)}", room.name, room.sid, urls, req.layout, options)
        self.egresses[egress.egress_id] = egress
        answer = egress.info()
        self._emit("egress_started", egress_info=answer)
        egress.status = ES.EGRESS_ACTIVE  # the egress worker connects right after answering
        self._emit("egress_updated", egress_info=egress.info())
        return answer

    def stop_egress(self, req: proto_egress.StopEgressRequest, claims: dict[str, Any]) -> Message:
        require(claims, "roomRecord")
        egress = self.egresses.get(req.egress_id)
        if egress is None:
            raise TwirpFailure("not_found", "egress does not exist")
        if not egress.active:
            raise TwirpFailure("failed_precondition", f"egress with status {ES.Name(egress.status)} cannot be stopped")
        egress.status = ES.EGRESS_ENDING
        answer = egress.info()
        egress.status, egress.ended_at = ES.EGRESS_COMPLETE, time.time_ns()
        self._emit("egress_ended", egress_info=egress.info())
        return answer

    def list_egress(self, req: proto_egress.ListEgressRequest, claims: dict[str, Any]) -> Message:
        require(claims, "roomRecord")
        items = [
            e for e in self.egresses.values()
            if (not req.room_name or e.room_name == req.room_name) and (not req.egress_id or e.egress_id == req.egress_id)
            and (not req.active or e.active)
        ]  # fmt: skip
        return proto_egress.ListEgressResponse(items=[e.info() for e in items])

    # --- HTTP -------------------------------------------------------------------------------------------
    def routes(self) -> dict[str, tuple[type[Message], Any]]:
        return {
            "RoomService/CreateRoom": (proto_room.CreateRoomRequest, self.create_room),
            "RoomService/ListRooms": (proto_room.ListRoomsRequest, self.list_rooms),
            "RoomService/DeleteRoom": (proto_room.DeleteRoomRequest, self.delete_room),
            "RoomService/ListParticipants": (proto_room.ListParticipantsRequest, self.list_participants),
            "RoomService/RemoveParticipant": (proto_room.RoomParticipantIdentity, self.remove_participant),
            "Egress/StartRoomCompositeEgress": (
                proto_egress.RoomCompositeEgressRequest,
                self.start_room_composite_egress,
            ),
            "Egress/StopEgress": (proto_egress.StopEgressRequest, self.stop_egress),
            "Egress/ListEgress": (proto_egress.ListEgressRequest, self.list_egress),
        }

    async def handle(self, request: Request) -> Response:
        name = f"{request.path_params['service']}/{request.path_params['method']}"
        try:
            if not self.available:
                raise TwirpFailure("unavailable", "service unavailable")
            route = self.routes().get(name)
            if route is None:
                raise TwirpFailure("bad_route", f"no handler for path {request.url.path!r}")
            request_class, handler = route
            content_type = request.headers.get("content-type", "").split(";")[0].strip()
            body = await request.body()
            claims = bearer_claims(request.headers.get("authorization", ""), self.api_key, self.api_secret)
            answer = handler(decode(request_class, content_type, body), claims)
        except TwirpFailure as e:
            self.rejected.append((name, e.code, e.msg))
            return e.response()
        self.calls.append(name)
        return encode(answer, content_type)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/twirp/livekit.{service}/{method}", self.handle, methods=["POST"])])


@asynccontextmanager
async def running_livekit_emulator() -> AsyncIterator[LiveKitEmulator]:
    """A :class:`LiveKitEmulator` served on a free local port inside this event loop; stopped on exit."""
    emulator = LiveKitEmulator()
    port = free_port()
    emulator.url = f"http://127.0.0.1:{port}"
    server, task = await start_serving(emulator.app(), port, "LiveKit emulator")
    try:
        yield emulator
    finally:
        await emulator.close()
        await stop_serving(server, task)


def livekit_settings(settings: Settings, emulator: LiveKitEmulator, **overrides: Any) -> Settings:
    """``settings`` pointed at ``emulator`` (URL, API key and secret), with ``overrides`` applied."""
    values: dict[str, Any] = {
        "livekit_url": emulator.url,
        "livekit_api_key": emulator.api_key,
        "livekit_api_secret": SecretStr(emulator.api_secret),
        **overrides,
    }
    return settings.model_copy(update=values)
