"""Playback tokens of the local pipeline (and the in-memory fake): HS256 JWTs (RFC 7519, PyJWT).

Claims: ``sub`` = the playback id, ``aud`` = :data:`HLS_AUDIENCE` (so a playback token is never an access
token and an access token, which has no ``aud``, is never a playback token), ``iat`` and ``exp`` (Unix
seconds). Signed with ``LIVECAST_SECRET_KEY`` (``Settings.signing_key``). ``/hls/<playbackId>/...`` checks one
on every playlist and segment request of a ``SIGNED`` stream (:mod:`livecast.domain.playback`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from livecast.providers.base import PlaybackToken

ALGORITHM = "HS256"
HLS_AUDIENCE = "livecast-hls"
"""``aud`` of local playback tokens."""
LEEWAY_SECONDS = 5
"""Clock skew tolerated on ``exp`` between the process that signed and the one that checks (seconds)."""


class InvalidPlaybackToken(Exception):
    """The token is missing a claim, expired, altered, signed with another key or for another playback id."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sign(
    *, key: str, playback_id: str, ttl_seconds: int, audience: str = HLS_AUDIENCE, now: datetime | None = None
) -> PlaybackToken:
    """A token for ``playback_id`` valid ``ttl_seconds`` (> 0) from ``now`` (UTC; default: the clock)."""
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = issued + timedelta(seconds=ttl_seconds)
    claims = {"sub": playback_id, "aud": audience, "iat": issued, "exp": expires}
    return PlaybackToken(token=jwt.encode(claims, key, algorithm=ALGORITHM), expires_at=expires)


def verify(token: str, *, key: str, playback_id: str, audience: str = HLS_AUDIENCE) -> datetime:
    """Check signature, audience, expiry and that ``sub`` is ``playback_id``; returns the expiry (UTC).

    Raises :class:`InvalidPlaybackToken` with the reason otherwise.
    """
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=audience, leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "aud", "exp"]},
        )  # fmt: skip
    except jwt.ExpiredSignatureError as e:
        raise InvalidPlaybackToken("playback token expired") from e
    except jwt.InvalidTokenError as e:
        raise InvalidPlaybackToken(f"invalid playback token: {e}") from e
    if claims["sub"] != playback_id:
        raise InvalidPlaybackToken("playback token is for another stream")
    return datetime.fromtimestamp(claims["exp"], UTC)
