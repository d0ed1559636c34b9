"""The provider contract: ONE set of tests every :class:`~livecast.providers.base.StreamProvider` adapter passes.

:class:`ProviderContract` is collected through ``tests/providers/test_contract.py`` and runs against every
adapter in :data:`ADAPTERS`: ``local``, ``memory``, ``mux`` (the real mux-python SDK against the Mux emulator)
and ``livekit`` (the real livekit-api against the LiveKit emulator), built in :mod:`tests.providers.harness`.
Each adapter declares what it supports (``Harness.features``); a feature it does not have must raise
``ProviderNotSupported`` — never another error, never a silent no-op — and every failure is a ``ProviderError``
subclass.

The story: create → get → update → reset key → ingest/playback shapes → sign playback → simulcast add/remove →
disable/enable → active → complete → delete → get is ``ProviderNotFound`` (the ``local`` provider keeps no
registry, the database is it: after a delete it still answers ``IDLE``, which its docstring says).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from livecast.providers.base import (
    PlaybackToken,
    ProviderError,
    ProviderNotFound,
    ProviderNotSupported,
    ProviderRejected,
    ProviderStreamState,
    ProviderUnavailable,
    StreamRef,
)
from livecast.settings import Settings
from tests.providers.harness import ADAPTERS, FEATURES, REMOTE_ADAPTERS, TTL, Harness, harness_for, settings_of, spec


async def unsupported(call: Awaitable[Any] | Callable[[], Any]) -> None:
    """``call`` (a coroutine, or a sync callable) raises ``ProviderNotSupported``."""
    with pytest.raises(ProviderNotSupported):
        await call if isinstance(call, Awaitable) else call()


class ProviderContract:
    """The contract tests; subclass it in a ``test_*.py`` module to collect them."""

    @pytest.fixture(params=ADAPTERS)
    async def harness(self, request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Harness]:
        async with harness_for(request.param, settings) as h:
            yield h

    @pytest.fixture(params=REMOTE_ADAPTERS)
    async def remote(self, request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Harness]:
        async with harness_for(request.param, settings) as h:
            yield h

    async def test_create_then_get(self, harness: Harness) -> None:
        first, second = await harness.create(), await harness.create()
        assert first.stream_key and first.playback_id and first.stream_key != second.stream_key
        assert first.playback_id != second.playback_id
        if harness.has("registry"):
            assert first.provider_stream_id and first.provider_stream_id != second.provider_stream_id
        state = await harness.provider.get_stream(first)
        assert isinstance(state, ProviderStreamState)
        assert (state.status, state.stream_key, state.playback_id) == ("IDLE", first.stream_key, first.playback_id)
        assert state.provider_stream_id == first.provider_stream_id and state.simulcast_targets == ()

    async def test_update_keeps_the_stream(self, harness: Harness) -> None:
        ref, other = await harness.create(), await harness.create()
        before = harness.stored(other) if harness.stored else None
        changed = spec(title="renamed", latency_mode="LOW", reconnect_window=30, max_continuous_duration=7200)
        assert await harness.provider.update_stream(ref, changed) is None  # same policy: the playback id stays
        state = await harness.provider.get_stream(ref)
        assert (state.status, state.stream_key, state.playback_id) == ("IDLE", ref.stream_key, ref.playback_id)
        if harness.stored is not None:  # the provider keeps the settings: the update reached it, and only there
            assert harness.stored(ref) == settings_of("renamed", "LOW", 30, 7200)
            assert harness.stored(other) == before == settings_of("contract", "STANDARD", 60, 3600)

    async def test_reset_stream_key(self, harness: Harness) -> None:
        ref = await harness.create()
        if not harness.has("reset_key"):
            return await unsupported(harness.provider.reset_stream_key(ref))
        new_key = await harness.provider.reset_stream_key(ref)
        assert isinstance(new_key, str) and new_key and new_key != ref.stream_key
        rotated = StreamRef(ref.provider_stream_id, new_key, ref.playback_id, ref.playback_policy)
        assert (await harness.provider.get_stream(rotated)).stream_key == new_key
        assert new_key != await harness.provider.reset_stream_key(rotated)

    async def test_ingest_and_playback_shapes(self, harness: Harness) -> None:
        ref = await harness.create()
        ingest = harness.provider.ingest_endpoints(ref)
        assert ingest.stream_key == ref.stream_key
        assert urlsplit(ingest.rtmp_url).scheme in harness.ingest_schemes and urlsplit(ingest.rtmp_url).hostname
        assert ingest.srt_url is None or urlsplit(ingest.srt_url).scheme == "srt"
        playback = harness.provider.playback(ref)
        assert playback.policy == "PUBLIC"
        if harness.has("hls"):
            url = urlsplit(playback.hls_url)
            assert url.scheme in ("http", "https") and url.path.endswith(".m3u8") and ref.playback_id in url.path
            assert "token" not in url.query
        else:
            assert playback.hls_url == "" and playback.fallback  # served elsewhere; a fallback to watch

    async def test_sign_playback(self, harness: Harness) -> None:
        ref = await harness.create("SIGNED")
        if not harness.has("sign"):
            return await unsupported(lambda: harness.provider.sign_playback(ref, ttl_seconds=TTL))
        before = int(time.time())
        signed = harness.provider.sign_playback(ref, ttl_seconds=TTL)
        assert isinstance(signed, PlaybackToken) and signed.expires_at.tzinfo is not None
        claims = harness.verify(signed.token)
        assert claims["sub"] == ref.playback_id
        assert before + TTL - 2 <= claims["exp"] <= int(time.time()) + TTL + 1
        assert signed.expires_at == datetime.fromtimestamp(claims["exp"], UTC)
        bare, tokenized = harness.provider.playback(ref), harness.provider.playback(ref, signed.token)
        assert bare.policy == tokenized.policy == "SIGNED" and "token" not in urlsplit(bare.hls_url).query
        assert parse_qs(urlsplit(tokenized.hls_url).query)["token"] == [signed.token]
        other = await harness.create("SIGNED")
        assert harness.verify(harness.provider.sign_playback(other, ttl_seconds=TTL).token)["sub"] == other.playback_id

    async def test_simulcast_targets(self, harness: Harness) -> None:
        ref = await harness.create()
        if not harness.has("simulcast"):
            await unsupported(harness.provider.add_simulcast_target(ref, url="rtmp://a.example/live", stream_key="k"))
            return await unsupported(harness.provider.remove_simulcast_target(ref, "any"))
        url = "rtmps://live.example.com:443/app"
        target = await harness.provider.add_simulcast_target(ref, url=url, stream_key="k1")
        assert target.id and target.url == url and target.status == "IDLE"
        assert [t.id for t in (await harness.provider.get_stream(ref)).simulcast_targets] == [target.id]
        with pytest.raises(ProviderRejected):
            await harness.provider.add_simulcast_target(ref, url="ftp://files.example/x", stream_key="k2")
        harness.activate(ref)
        with pytest.raises(ProviderRejected):  # targets change only while idle (Mux)
            await harness.provider.add_simulcast_target(ref, url="rtmp://b.example/live", stream_key="k3")
        assert [t.status for t in (await harness.provider.get_stream(ref)).simulcast_targets] == ["BROADCASTING"]
        await harness.provider.complete_stream(ref)
        await harness.provider.remove_simulcast_target(ref, target.id)
        assert (await harness.provider.get_stream(ref)).simulcast_targets == ()
        await harness.provider.remove_simulcast_target(ref, target.id)  # already gone: removed all the same

    async def test_disable_then_enable(self, harness: Harness) -> None:
        ref = await harness.create()
        if not harness.has("enable"):
            await unsupported(harness.provider.set_enabled(ref, False))
            return await unsupported(harness.provider.set_enabled(ref, True))
        await harness.provider.set_enabled(ref, False)
        assert (await harness.provider.get_stream(ref)).status == "DISABLED"
        await harness.provider.set_enabled(ref, True)
        assert (await harness.provider.get_stream(ref)).status == "IDLE"

    async def test_active_then_complete(self, harness: Harness) -> None:
        """Completing ends the broadcast, not the stream: same key and playback id afterwards. Adapters that
        disconnect the encoder report ``IDLE``; the local pipeline leaves that to its ingest (which reacts to the
        stream's ``ENDED`` event), so its playlist is still fresh (``ACTIVE``). A recorded broadcast leaves an
        asset where the provider records."""
        ref = await harness.create()  # recording_enabled
        harness.activate(ref)
        assert (await harness.provider.get_stream(ref)).status == "ACTIVE"
        await harness.provider.complete_stream(ref)
        after = await harness.provider.get_stream(ref)
        assert (after.stream_key, after.playback_id) == (ref.stream_key, ref.playback_id)
        assert after.provider_stream_id == ref.provider_stream_id
        assert after.status == ("IDLE" if harness.has("complete_disconnects") else "ACTIVE")
        assert len(after.recent_asset_ids) == (1 if harness.has("recording") else 0)

    async def test_delete_then_gone(self, harness: Harness) -> None:
        ref, kept = await harness.create(), await harness.create()
        await harness.provider.delete_stream(ref)
        await harness.provider.delete_stream(ref)  # already gone: deleted all the same
        assert (await harness.provider.get_stream(kept)).status == "IDLE"
        if not harness.has("registry"):
            assert (await harness.provider.get_stream(ref)).status == "IDLE"  # no registry: cannot tell
            return
        with pytest.raises(ProviderNotFound):
            await harness.provider.get_stream(ref)
        calls = {
            "update": lambda: harness.provider.update_stream(ref, spec()),
            "reset_key": lambda: harness.provider.reset_stream_key(ref),
            "enable": lambda: harness.provider.set_enabled(ref, False),
            "simulcast": lambda: harness.provider.add_simulcast_target(ref, url="rtmp://a.example/x", stream_key="k"),
        }
        for feature, call in calls.items():
            expected = ProviderNotFound if feature == "update" or harness.has(feature) else ProviderNotSupported
            with pytest.raises(expected):
                await call()

    async def test_an_unknown_stream_is_not_found(self, harness: Harness) -> None:
        ghost = StreamRef("doesnotexist0000000000000000000000", "nokey", "doesnotexist", "PUBLIC")
        if harness.has("registry"):
            with pytest.raises(ProviderNotFound):
                await harness.provider.get_stream(ghost)
        else:
            assert (await harness.provider.get_stream(ghost)).status == "IDLE"

    async def test_an_outage_is_provider_unavailable(self, remote: Harness) -> None:
        ref = await remote.create("SIGNED")
        assert remote.outage is not None
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "create": lambda: remote.provider.create_stream(spec()),
            "get": lambda: remote.provider.get_stream(ref),
            "update": lambda: remote.provider.update_stream(ref, spec()),
            "complete": lambda: remote.provider.complete_stream(ref),
            "delete": lambda: remote.provider.delete_stream(ref),
            "reset_key": lambda: remote.provider.reset_stream_key(ref),
            "enable": lambda: remote.provider.set_enabled(ref, True),
            "simulcast": lambda: remote.provider.add_simulcast_target(ref, url="rtmp://a.example/x", stream_key="k"),
        }
        async with remote.outage():
            for name, call in calls.items():
                expected = ProviderUnavailable if name not in FEATURES or remote.has(name) else ProviderNotSupported
                with pytest.raises(ProviderError) as caught:
                    await call()
                assert isinstance(caught.value, expected), (name, caught.value)
            assert remote.provider.ingest_endpoints(ref).stream_key == ref.stream_key  # no call: still answers
        assert (await remote.provider.get_stream(ref)).playback_id == ref.playback_id  # back after the outage


__all__ = ["ProviderContract"]
