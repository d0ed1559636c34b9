"""An in-process fake provider with Mux's semantics, for domain tests and the contract suite.

It keeps live streams in a dict, like Mux keeps them: every stream gets an id (``mem_...``), a secret stream key
and a playback id; ``reset_stream_key`` rotates the key (the old one stops working); a deleted stream is gone
(``ProviderNotFound`` for every later call; deleting it again is fine, as with the Mux adapter); simulcast
targets are stored per stream (status ``IDLE`` until the stream is active, then ``BROADCASTING``) and, as on
Mux, change only while the stream is idle; a disabled stream refuses encoders; ``complete_stream``
disconnects the encoder and, with recording on, leaves an asset id in ``recent_asset_ids``. Playback tokens are
HS256 JWTs keyed by ``Settings.signing_key`` (``aud`` ``livecast-memory``).

Test hooks: :meth:`MemoryProvider.connect` / :meth:`disconnect` play an encoder; :meth:`fail_next` makes the
next calls fail with a chosen :class:`~livecast.providers.base.ProviderError`; :attr:`calls` records every
call's method name in order.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from livecast.providers.base import (
    IngestEndpoints,
    PlaybackInfo,
    PlaybackToken,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderStreamState,
    ProviderUnavailable,
    ProvisionedStream,
    SimulcastTarget,
    StreamRef,
    StreamSpec,
)
from livecast.providers.local import tokens
from livecast.settings import Settings

RTMP_URL = "rtmp://ingest.memory.invalid:1935/app"
"""Ingest URL of every memory stream (``.invalid``: RFC 2606, never resolves)."""
SRT_URL = "srt://ingest.memory.invalid:6001"
STREAM_URL = "https://stream.memory.invalid"
"""Base of memory playback URLs: ``<STREAM_URL>/<playback id>.m3u8`` (Mux's shape)."""
AUDIENCE = "livecast-memory"
"""``aud`` of memory playback tokens (verify with :func:`livecast.providers.local.tokens.verify`)."""
TARGET_SCHEMES = ("rtmp", "rtmps")


@dataclass
class FakeStream:
    """One stream as the fake keeps it (``status`` ``IDLE | ACTIVE | DISABLED``)."""

    id: str
    stream_key: str
    playback_id: str
    spec: StreamSpec
    status: str = "IDLE"
    targets: dict[str, SimulcastTarget] = field(default_factory=dict)
    recent_asset_ids: list[str] = field(default_factory=list)


@dataclass
class _Fault:
    remaining: int
    error: ProviderError
    method: str | None


class MemoryProvider:
    """A faithful in-memory :class:`~livecast.providers.base.StreamProvider` (one state per instance)."""

    name = "memory"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.streams: dict[str, FakeStream] = {}
        """Live streams by id; deleted ones are removed."""
        self.calls: list[str] = []
        """Method names of every port call, in order (including failed ones)."""
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)

    # test hooks -------------------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, error: ProviderError | None = None, *, method: str | None = None) -> None:
        """Make the next ``n`` calls (of ``method`` only, if given) raise ``error`` (default:
        ``ProviderUnavailable``) before doing anything. Faults queue up in the order they were added."""
        if n < 1:
            raise ValueError("n must be at least 1")
        failure = error if error is not None else ProviderUnavailable(self.name, "injected failure")
        self._faults.append(_Fault(remaining=n, error=failure, method=method))

    def connect(self, stream_key: str) -> FakeStream:
        """An encoder publishes with ``stream_key``: the stream goes ``ACTIVE``. ``ProviderRejected`` for an
        unknown (or rotated) key or a disabled stream, as Mux refuses the RTMP publish."""
        stream = next((s for s in self.streams.values() if secrets.compare_digest(s.stream_key, stream_key)), None)
        if stream is None:
            raise ProviderRejected(self.name, "unknown stream key")
        if stream.status == "DISABLED":
            raise ProviderRejected(self.name, "the live stream is disabled")
        stream.status = "ACTIVE"
        stream.targets = {i: replace(t, status="BROADCASTING") for i, t in stream.targets.items()}
        return stream

    def disconnect(self, provider_stream_id: str) -> None:
        """The encoder of a stream goes away: ``IDLE`` (a disabled stream stays ``DISABLED``)."""
        stream = self.streams[provider_stream_id]
        if stream.status == "ACTIVE":
            stream.status = "IDLE"
        stream.targets = {i: replace(t, status="IDLE") for i, t in stream.targets.items()}

    # the port -----------------------------------------------------------------------------------------------

    async def create_stream(self, spec: StreamSpec) -> ProvisionedStream:
        self._enter("create_stream")
        stream = FakeStream(
            id=f"mem_{next(self._ids)}_{secrets.token_hex(4)}",
            stream_key=secrets.token_urlsafe(24),
            playback_id=secrets.token_hex(12),
            spec=spec,
        )
        self.streams[stream.id] = stream
        return ProvisionedStream(
            provider_stream_id=stream.id, stream_key=stream.stream_key, playback_id=stream.playback_id
        )

    async def update_stream(self, ref: StreamRef, spec: StreamSpec) -> str | None:
        """Store the new settings (the playback id stays); ``ProviderNotFound`` for a deleted stream."""
        self._stream(ref, "update_stream").spec = spec
        return None

    async def complete_stream(self, ref: StreamRef) -> None:
        """Disconnect the encoder (Mux "signal complete"); an active recorded stream leaves an asset id."""
        stream = self._stream(ref, "complete_stream")
        if stream.status == "ACTIVE" and stream.spec.recording_enabled:
            stream.recent_asset_ids.append(f"asset_{secrets.token_hex(8)}")
        self.disconnect(stream.id)

    async def delete_stream(self, ref: StreamRef) -> None:
        """Forget the stream; one already gone counts as deleted (the Mux adapter's rule)."""
        self._enter("delete_stream")
        self.streams.pop(ref.provider_stream_id or "", None)

    async def reset_stream_key(self, ref: StreamRef) -> str:
        stream = self._stream(ref, "reset_stream_key")
        stream.stream_key = secrets.token_urlsafe(24)
        return stream.stream_key

    async def get_stream(self, ref: StreamRef) -> ProviderStreamState:
        stream = self._stream(ref, "get_stream")
        return ProviderStreamState(
            provider_stream_id=stream.id,
            status=stream.status,
            stream_key=stream.stream_key,
            playback_id=stream.playback_id,
            simulcast_targets=tuple(stream.targets.values()),
            recent_asset_ids=tuple(stream.recent_asset_ids),
        )

    async def set_enabled(self, ref: StreamRef, enabled: bool) -> None:
        """Disabling disconnects the encoder and refuses new ones (``DISABLED``); enabling makes it ``IDLE``."""
        stream = self._stream(ref, "set_enabled")
        if enabled:
            if stream.status == "DISABLED":
                stream.status = "IDLE"
        else:
            self.disconnect(stream.id)
            stream.status = "DISABLED"

    def ingest_endpoints(self, ref: StreamRef) -> IngestEndpoints:
        srt_url = f"{SRT_URL}?streamid={ref.stream_key}"
        return IngestEndpoints(rtmp_url=RTMP_URL, srt_url=srt_url, stream_key=ref.stream_key)

    def playback(self, ref: StreamRef, token: str | None = None) -> PlaybackInfo:
        """``<STREAM_URL>/<playback id>.m3u8``, with ``?token=`` for a ``SIGNED`` stream given one."""
        url = f"{STREAM_URL}/{ref.playback_id}.m3u8"
        if token and ref.playback_policy == "SIGNED":
            url += f"?token={token}"
        return PlaybackInfo(hls_url=url, policy=ref.playback_policy)

    def sign_playback(self, ref: StreamRef, *, ttl_seconds: int) -> PlaybackToken:
        """HS256 JWT (``sub`` playback id, ``aud`` ``livecast-memory``); ``ProviderRejected`` for ttl <= 0."""
        self._enter("sign_playback")
        if ttl_seconds <= 0:
            raise ProviderRejected(self.name, "ttl_seconds must be positive")
        return tokens.sign(
            key=self._settings.signing_key, playback_id=ref.playback_id, ttl_seconds=ttl_seconds, audience=AUDIENCE
        )

    async def add_simulcast_target(self, ref: StreamRef, *, url: str, stream_key: str) -> SimulcastTarget:
        """Store a restream target (status ``IDLE``); ``ProviderRejected`` unless ``url`` is ``rtmp(s)://host/...``,
        a key is given and the stream is not active (Mux: "only while the live stream is idle")."""
        stream = self._stream(ref, "add_simulcast_target")
        self._require_idle(stream)
        parts = urlsplit(url)
        if parts.scheme not in TARGET_SCHEMES or not parts.hostname:
            raise ProviderRejected(self.name, f"simulcast url must be rtmp:// or rtmps:// with a host, not {url!r}")
        if not stream_key:
            raise ProviderRejected(self.name, "a simulcast target needs a stream key")
        target = SimulcastTarget(id=f"st_{secrets.token_hex(6)}", url=url, status="IDLE")
        stream.targets[target.id] = target
        return target

    async def remove_simulcast_target(self, ref: StreamRef, target_id: str) -> None:
        """Remove a target (one already gone counts as removed); ``ProviderRejected`` while the stream is active,
        ``ProviderNotFound`` for a deleted stream."""
        stream = self._stream(ref, "remove_simulcast_target")
        if target_id in stream.targets:
            self._require_idle(stream)
            del stream.targets[target_id]

    # internals ------------------------------------------------------------------------------------------------

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        for fault in self._faults:
            if fault.method in (None, method):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                raise fault.error

    def _require_idle(self, stream: FakeStream) -> None:
        if stream.status == "ACTIVE":
            raise ProviderRejected(self.name, "simulcast targets change only while the live stream is idle")

    def _stream(self, ref: StreamRef, method: str) -> FakeStream:
        self._enter(method)
        stream = self.streams.get(ref.provider_stream_id or "")
        if stream is None:
            raise ProviderNotFound(self.name, f"no live stream {ref.provider_stream_id}")
        return stream
