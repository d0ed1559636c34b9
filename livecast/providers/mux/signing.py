"""Mux signed playback tokens (Mux docs "Secure video playback"): RS256 JWTs made with PyJWT.

Header ``kid`` = the URL signing key id; claims ``sub`` = playback id, ``aud`` = ``v`` (video; ``t`` thumbnail,
``g`` gif, ``s`` storyboard), ``exp`` = expiry (Unix seconds). The private key is the one Mux returns when the
signing key is created: base64 of an RSA PEM (a raw PEM is accepted too).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from livecast.providers.base import PlaybackToken, ProviderRejected

PROVIDER = "mux"
VIDEO_AUDIENCE = "v"


def load_signing_key(value: str) -> RSAPrivateKey:
    """The RSA private key from ``value`` (base64 of a PEM, or a PEM); ``ProviderRejected`` if it is neither."""
    text = value.strip()
    try:
        pem = text.encode() if text.startswith("-----BEGIN") else base64.b64decode(text, validate=True)
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, binascii.Error) as e:
        raise ProviderRejected(PROVIDER, "the signing private key is not an RSA PEM (or base64 of one)") from e
    if not isinstance(key, RSAPrivateKey):
        raise ProviderRejected(PROVIDER, "the signing private key is not an RSA key")
    return key


class PlaybackSigner:
    """Signs playback tokens with one URL signing key (``kid``); the key is parsed once, at first use."""

    def __init__(self, key_id: str | None, private_key: str | None) -> None:
        self._key_id = key_id
        self._private_key = private_key
        self._key: RSAPrivateKey | None = None

    def sign(self, playback_id: str, *, ttl_seconds: int, audience: str = VIDEO_AUDIENCE) -> PlaybackToken:
        """A token for ``playback_id`` valid ``ttl_seconds`` seconds; ``ProviderRejected`` if no key is set."""
        if not self._key_id or not self._private_key:
            raise ProviderRejected(
                PROVIDER,
                "signed playback is not configured: "
                "set LIVECAST_MUX_SIGNING_KEY_ID and LIVECAST_MUX_SIGNING_PRIVATE_KEY",
            )
        if self._key is None:
            self._key = load_signing_key(self._private_key)
        expires_at = (datetime.now(UTC) + timedelta(seconds=ttl_seconds)).replace(microsecond=0)
        claims = {"sub": playback_id, "aud": audience, "exp": int(expires_at.timestamp())}
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._key_id})
        return PlaybackToken(token=token, expires_at=expires_at)
