"""Signed playback: playback tokens for viewers (``createPlaybackToken``) and the check of ``/hls/`` requests.

Who may watch a ``SIGNED`` stream: any signed-in user of this livecast (the app decides who gets an account);
anonymous callers get ``Unauthenticated``. A ``PUBLIC`` stream needs no token (``ValidationFailed``).

The local ``/hls/<playbackId>/<file>`` route asks :class:`PlaybackGate` on every playlist and segment request:
a stream that the database says is ``SIGNED`` needs ``?token=<JWT>`` (HS256, ``sub`` = its playback id, ``aud``
``livecast-hls``, not expired; :mod:`livecast.providers.local.tokens`), else ``Forbidden`` (HTTP 403). Players
resolve segment URIs against the playlist URL without its query, so a signed playlist is served with the token
appended to every relative URI in it (:func:`with_token`): hls.js, Safari and ffmpeg play a signed stream from
the tokenized playlist URL alone. Live players reload the playlist with the same URL, so a token must outlive
the viewing session: the app asks for a fresh token (and reloads the source) before ``expiresAt``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from livecast.domain import broadcast, broadcast_egress, lifecycle
from livecast.domain.auth import Principal, require_actor
from livecast.domain.deps import Deps
from livecast.domain.errors import Forbidden, ValidationFailed, provider_failure
from livecast.domain.models import PlaybackPolicy, Stream, StreamStatus
from livecast.domain.provider_models import Broadcast
from livecast.domain.streams import existing_stream, stream_ref
from livecast.providers.base import ProviderError, StreamProvider, StreamRef
from livecast.providers.local import tokens

POLICY_TTL = 5.0
"""Seconds a playback id's policy (``SIGNED``, ``PUBLIC`` or unknown) is trusted without asking the database."""
CACHE_LIMIT = 100_000
"""Playback ids remembered at most (the cache is emptied when it grows past this)."""
URI_ATTRIBUTE = re.compile(r'(URI=")([^"]*)(")')
"""A quoted ``URI`` attribute (RFC 8216 section 4.2): EXT-X-MAP, EXT-X-MEDIA, EXT-X-KEY, EXT-X-PART, ..."""
ABSOLUTE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:|//)")
"""A URI with a scheme or an authority: it points elsewhere, it never gets our token."""


@dataclass(frozen=True)
class IssuedToken:
    """A playback token: ``hls_url`` already carries it; ``expires_at`` is UTC."""

    token: str
    expires_at: datetime
    hls_url: str


async def create_playback_token(*, deps: Deps, actor: Principal | None, stream_id: str) -> IssuedToken:
    """A token to watch a ``SIGNED`` stream for ``deps.playback_token_ttl_seconds``, signed by the provider that
    serves its HLS (a ``livekit`` stream's paired Mux or local stream).

    ``Unauthenticated`` (anonymous), ``NotFound``, ``ValidationFailed`` (a ``PUBLIC`` stream needs none),
    ``ProviderFailed`` (the provider cannot sign, e.g. Mux without a signing key) or ``ProviderDown``.
    """
    require_actor(actor)
    stream = await existing_stream(stream_id)
    if stream.playback_policy is not PlaybackPolicy.SIGNED:
        raise ValidationFailed(
            f"stream {stream_id} is {stream.playback_policy.value}: play its playback.hlsUrl, no token needed",
            field="streamId",
        )
    try:
        adapter, ref = await _hls_source(deps, stream)
        signed = adapter.sign_playback(ref, ttl_seconds=deps.playback_token_ttl_seconds)
        info = adapter.playback(ref, signed.token)
    except ProviderError as e:
        raise provider_failure("the provider could not sign a playback token", e) from e
    return IssuedToken(token=signed.token, expires_at=signed.expires_at, hls_url=info.hls_url)


async def _hls_source(deps: Deps, stream: Stream) -> tuple[StreamProvider, StreamRef]:
    """The adapter and ref whose HLS players read: the stream's own, or a LiveKit room's paired stream."""
    if stream.provider == broadcast.PROVIDER:
        paired = await broadcast.broadcast_of(str(stream.id))
        if paired is not None:
            ref = broadcast_egress.paired_ref(paired, stream.playback_policy.value)
            return deps.providers.get(paired.paired_provider), ref
    return deps.providers.get(stream.provider), stream_ref(stream)


@dataclass(frozen=True)
class Access:
    """What ``/hls/`` may serve: ``token`` is the checked token of a ``SIGNED`` stream, ``None`` when public.

    ``known``: a stream (or a LiveKit room's paired stream) has this playback id; ``over``: it is ``ENDED``,
    ``ARCHIVED`` or ``CANCELLED``; ``title``: its title. As of the cached lookup (at most ``POLICY_TTL`` seconds
    old); they say what to answer for a playlist the pipeline has not written (yet)."""

    token: str | None
    known: bool = True
    over: bool = False
    title: str = ""

    @property
    def signed(self) -> bool:
        return self.token is not None

    def playlist(self, body: bytes) -> bytes:
        """The playlist to send: with the token on every relative URI for a signed stream, else as is."""
        return with_token(body, self.token) if self.token is not None else body


@dataclass(frozen=True)
class _Playback:
    signed: bool
    known: bool
    over: bool
    title: str
    expires: float


class PlaybackGate:
    """Checks ``/hls/`` requests against the stream's playback policy (cached per process, ``POLICY_TTL`` s,
    with the stream's status: whether it is known and over, see :class:`Access`).

    ``key`` returns the HS256 key (``Settings.signing_key``); it is asked once, when first needed. A playback
    id is a stream's own, or the paired stream's of a ``livekit`` stream (with that stream's policy); one no
    stream has (files left by hand, or a stream deleted since) is served as public.
    """

    def __init__(self, key: Callable[[], str], *, policy_ttl: float = POLICY_TTL) -> None:
        self._key_source = key
        self._key: str | None = None
        self._ttl = policy_ttl
        self._policies: dict[str, _Playback] = {}
        self._lookups: dict[str, asyncio.Future[_Playback]] = {}

    async def check(self, playback_id: str, token: str | None) -> Access:
        """``Access`` for this request, or ``Forbidden`` (missing, expired, altered or other-stream token)."""
        playback = await self._playback(playback_id)
        if not playback.signed:
            return Access(token=None, known=playback.known, over=playback.over, title=playback.title)
        if not token:
            raise Forbidden("this stream needs a playback token: ?token=<createPlaybackToken.token>")
        if self._key is None:
            self._key = self._key_source()
        try:
            tokens.verify(token, key=self._key, playback_id=playback_id)
        except tokens.InvalidPlaybackToken as e:
            raise Forbidden(e.reason) from e
        return Access(token=token, known=playback.known, over=playback.over, title=playback.title)

    async def _playback(self, playback_id: str) -> _Playback:
        cached = self._policies.get(playback_id)
        if cached is not None and cached.expires > time.monotonic():
            return cached
        lookup = self._lookups.get(playback_id)
        if lookup is None:  # concurrent requests of an uncached stream share one query
            lookup = self._lookups[playback_id] = asyncio.ensure_future(self._look_up(playback_id))
        return await asyncio.shield(lookup)

    async def _look_up(self, playback_id: str) -> _Playback:
        try:
            rows = await Stream.filter(playback_id=playback_id).values_list("playback_policy", "status", "title")
            if not rows:  # a LiveKit room's HLS: the paired stream's playback id
                rows = await Broadcast.filter(paired_playback_id=playback_id).values_list(
                    "stream__playback_policy", "stream__status", "stream__title"
                )
        finally:
            del self._lookups[playback_id]
        playback = _Playback(
            signed=any(PlaybackPolicy(policy) is PlaybackPolicy.SIGNED for policy, _, _ in rows),
            known=bool(rows),
            over=bool(rows) and all(StreamStatus(status) in lifecycle.FINISHED for _, status, _ in rows),
            title=str(rows[0][2]) if rows else "",
            expires=time.monotonic() + self._ttl,
        )
        if len(self._policies) >= CACHE_LIMIT:
            self._policies.clear()
        self._policies[playback_id] = playback
        return playback


def with_token(body: bytes, token: str) -> bytes:
    """An HLS playlist (RFC 8216) with ``token=<token>`` added to the query of every relative URI: URI lines
    (segments, variant playlists) and ``URI="..."`` attributes of ``#EXT`` tags. Absolute URIs are left alone
    (the token is never sent to another host); line endings and everything else are kept byte for byte."""
    text = body.decode("utf-8", errors="surrogateescape")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        content = line.rstrip("\r")
        if not content.strip():
            continue
        if content.startswith("#"):
            if content.startswith("#EXT") and 'URI="' in content:
                lines[i] = URI_ATTRIBUTE.sub(lambda m: m.group(1) + _tokenized(m.group(2), token) + m.group(3), line)
        else:
            lines[i] = _tokenized(content.strip(), token) + line[len(content) :]
    return "\n".join(lines).encode("utf-8", errors="surrogateescape")


def _tokenized(uri: str, token: str) -> str:
    if not uri or ABSOLUTE.match(uri):
        return uri
    base, hash_, fragment = uri.partition("#")
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}token={quote(token, safe='')}{hash_}{fragment}"
