"""LiveKit webhook verification with livekit-api's ``WebhookReceiver``.

LiveKit signs every delivery (LiveKit docs, "Webhooks"; livekit/protocol ``webhook``): the body is a
``WebhookEvent`` in protobuf JSON (content type ``application/webhook+json``) and the ``Authorization`` header is
an HS256 JWT issued by the API key (``iss``), signed with the API secret, valid 5 minutes, whose ``sha256`` claim
is base64(SHA-256(raw body)). ``WebhookReceiver`` checks signature, issuer, expiry and the body hash.

Delivery is best effort: per-resource queues drop events that wait too long or overflow, and the next event
sent carries ``num_dropped`` > 0. The domain reconciles from the LiveKit API when it sees that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from google.protobuf.json_format import MessageToDict
from livekit.api import TokenVerifier, WebhookReceiver

from livecast.providers.base import ProviderEvent, WebhookRejected

HEADER = "authorization"
MAX_CREATED_AT = 2**33
"""Largest ``created_at`` accepted (unix seconds, year 2242): ``datetime`` cannot represent much larger ones."""


def verify_livekit_webhook(body: bytes, headers: Mapping[str, str], *, api_key: str, api_secret: str) -> ProviderEvent:
    """Verify a LiveKit delivery and return its event (``provider`` ``"livekit"``).

    ``headers`` is looked up case-insensitively; the token may be bare (as LiveKit sends it) or ``Bearer``-
    prefixed. Raises :class:`WebhookRejected` for a missing header, a token that does not verify (signature,
    issuer, expiry), a body whose SHA-256 differs from the token's claim, a body that is not a
    ``WebhookEvent`` with ``id`` and ``event``, or a ``created_at`` outside 0..:data:`MAX_CREATED_AT`.

    The event: ``type`` = ``event`` (``participant_joined``, ``egress_ended``, ...); ``object_id`` = the room
    name (``room.name``, else ``egress_info.room_name`` / ``ingress_info.room_name``); ``occurred_at`` =
    ``created_at`` (unix seconds, UTC; 0 → now); ``data`` = the event as a dict with proto field names
    (``egress_info``, ``num_dropped``, ...; int64 values as strings, as in protobuf JSON).
    """
    token = headers.get(HEADER) or next((v for k, v in headers.items() if k.lower() == HEADER), None)
    if not token:
        raise WebhookRejected("missing Authorization header")
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise WebhookRejected("the body is not UTF-8 JSON") from e
    receiver = WebhookReceiver(TokenVerifier(api_key, api_secret))
    try:
        event = receiver.receive(text, token)
    except Exception as e:
        raise WebhookRejected(f"LiveKit webhook did not verify: {e}") from e
    if not event.id or not event.event:
        raise WebhookRejected("a LiveKit event needs id and event")
    room = event.room.name or event.egress_info.room_name or event.ingress_info.room_name or None
    if not 0 <= event.created_at <= MAX_CREATED_AT:
        raise WebhookRejected(f"created_at {event.created_at} is not a plausible time (unix seconds)")
    occurred = datetime.fromtimestamp(event.created_at, UTC) if event.created_at > 0 else datetime.now(UTC)
    return ProviderEvent(
        provider="livekit",
        event_id=event.id,
        type=event.event,
        object_id=room,
        occurred_at=occurred,
        data=MessageToDict(event, preserving_proto_field_name=True),
    )
