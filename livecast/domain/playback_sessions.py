"""Playback session tokens: what makes a playback beacon count.

``Stream.playback.session`` opens a session for one player: a server-generated session id and a token,
``<expires>.<signature>``, where ``expires`` is a Unix time (whole seconds) and ``signature`` is the unpadded
base64url HMAC-SHA256 of ``<streamId>\\n<sessionId>\\n<expires>`` under a key derived from the server's signing
key (``LIVECAST_SECRET_KEY``) for this one purpose (HMAC of the key over :data:`PURPOSE`, so a session token is
never valid as anything else, and nothing else as a session token). The beacon carries ``sessionId`` and
``sessionToken``; the server checks the signature in constant time against the beacon's stream and session,
then the expiry. Tokens are stateless: opening a session stores nothing (a session enters the viewer store
with its first accepted beacon).

Renewal: a long session keeps its id. An accepted beacon whose token is past half its lifetime gets a fresh
token for the same stream and session in the reply (see :meth:`SessionSigner.renewal_due`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from livecast.domain.errors import Forbidden, Unauthenticated

PURPOSE = b"livecast playback session token v1"
"""Domain separation: the session key is HMAC-SHA256(signing key, PURPOSE)."""
TOKEN = re.compile(r"^([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")
"""``<expires: Unix seconds>.<43 base64url characters: 32 bytes of HMAC-SHA256>``."""
MAX_TOKEN_LENGTH = 56
"""Longest well-formed token (characters)."""


class InvalidSession(Forbidden):
    """A session token that is malformed, forged, altered, or for another stream or session (HTTP 403)."""


class SessionExpired(Unauthenticated):
    """A genuine session token past its expiry (HTTP 401): open a new session (``Stream.playback.session``)."""


@dataclass(frozen=True, slots=True)
class PlaybackSession:
    """An open playback session: ``id`` (the beacons' ``sessionId``), ``token`` (their ``sessionToken``),
    ``expires`` (Unix seconds) for ``stream_id``."""

    stream_id: str
    id: str
    token: str
    expires: int

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


def new_session_id() -> str:
    """A random session id: 22 base64url characters (128 bits), inside ``viewers.ID_PATTERN``."""
    return secrets.token_urlsafe(16)


class SessionSigner:
    """Issues and checks session tokens. ``key`` returns the server's signing key (asked once, when first
    needed); ``None``: a random key for this process only (tests, tools). ``ttl``: token lifetime, seconds."""

    def __init__(self, key: Callable[[], str] | None = None, *, ttl: int = 600) -> None:
        self._key_source = key
        self._key: bytes | None = None
        self.ttl = ttl

    def _session_key(self) -> bytes:
        if self._key is None:
            master = self._key_source().encode() if self._key_source is not None else secrets.token_bytes(32)
            self._key = hmac.new(master, PURPOSE, hashlib.sha256).digest()
        return self._key

    def _signature(self, stream_id: str, session_id: str, expires: int) -> str:
        message = f"{stream_id}\n{session_id}\n{expires}".encode()
        digest = hmac.new(self._session_key(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def issue(self, stream_id: str, session_id: str | None = None, *, now: float) -> PlaybackSession:
        """A token for ``session_id`` (a new random one if ``None``) on ``stream_id`` (a canonical UUID string),
        valid until ``now`` (Unix seconds) + ``ttl``."""
        session_id = session_id or new_session_id()
        expires = math.floor(now) + self.ttl
        token = f"{expires}.{self._signature(stream_id, session_id, expires)}"
        return PlaybackSession(stream_id=stream_id, id=session_id, token=token, expires=expires)

    def verify(self, stream_id: str, session_id: str, token: str, *, now: float) -> int:
        """The token's expiry (Unix seconds) if it was issued for this stream and session and is not expired
        at ``now``. ``InvalidSession`` (malformed, wrong signature, other stream or session), else
        ``SessionExpired``. The signature is compared in constant time, before the expiry is looked at."""
        match = TOKEN.match(token)
        if match is None:
            raise InvalidSession("the session token is malformed: use Stream.playback.session.token")
        expires = int(match.group(1))
        if not hmac.compare_digest(self._signature(stream_id, session_id, expires), match.group(2)):
            raise InvalidSession("the session token does not match this stream and session")
        if expires <= now:
            raise SessionExpired("the session token has expired: open a new session (Stream.playback.session)")
        return expires

    def renewal_due(self, expires: int, *, now: float) -> bool:
        """Whether a token expiring at ``expires`` is past half its lifetime at ``now`` (then the accepted
        beacon's reply carries a fresh token)."""
        return expires - now < self.ttl / 2
