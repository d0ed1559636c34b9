"""The in-memory fake provider: Mux-like behaviour the contract suite does not cover (encoders, rotated keys,
recordings), its fault injection, and domain commands driven through it (provider errors → typed domain errors)."""

from __future__ import annotations

import pytest

from livecast.domain import playback, streams
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.domain.errors import ProviderDown, ProviderFailed
from livecast.domain.models import PlaybackPolicy, Stream
from livecast.domain.validation import StreamFields
from livecast.providers import memory as memory_module
from livecast.providers.base import ProviderNotFound, ProviderRejected, ProviderUnavailable, StreamRef
from livecast.providers.local import tokens
from livecast.providers.memory import MemoryProvider
from livecast.settings import Settings
from tests.providers.harness import spec


def _ref(provider_stream_id: str | None, key: str, playback_id: str, policy: str = "PUBLIC") -> StreamRef:
    return StreamRef(provider_stream_id, key, playback_id, policy)


async def _created(provider: MemoryProvider, **changes: object) -> StreamRef:
    p = await provider.create_stream(spec(**changes))  # type: ignore[arg-type]
    return _ref(p.provider_stream_id, p.stream_key, p.playback_id)


async def test_encoders_keys_and_recordings(settings: Settings) -> None:
    provider = MemoryProvider(settings)
    ref = await _created(provider)
    with pytest.raises(ProviderRejected):
        provider.connect("not-a-key")
    new_key = await provider.reset_stream_key(ref)
    with pytest.raises(ProviderRejected, match="unknown stream key"):
        provider.connect(ref.stream_key)  # the old key stops working at once
    assert provider.connect(new_key).status == "ACTIVE"
    await provider.set_enabled(ref, False)  # disabling disconnects and refuses encoders
    assert (await provider.get_stream(ref)).status == "DISABLED"
    with pytest.raises(ProviderRejected, match="disabled"):
        provider.connect(new_key)
    await provider.set_enabled(ref, True)
    provider.connect(new_key)
    await provider.complete_stream(ref)
    state = await provider.get_stream(ref)
    assert state.status == "IDLE" and len(state.recent_asset_ids) == 1  # recording_enabled: one asset
    unrecorded = await _created(provider, recording_enabled=False)
    provider.connect(unrecorded.stream_key)
    await provider.complete_stream(unrecorded)
    assert (await provider.get_stream(unrecorded)).recent_asset_ids == ()
    assert provider.streams[ref.provider_stream_id or ""].spec.title == "contract"
    await provider.update_stream(ref, spec(title="renamed"))
    assert provider.streams[ref.provider_stream_id or ""].spec.title == "renamed"


async def test_fail_next_injects_faults_in_order(settings: Settings) -> None:
    provider = MemoryProvider(settings)
    ref = await _created(provider)
    provider.fail_next(2)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable, match="injected failure"):
            await provider.get_stream(ref)
    assert (await provider.get_stream(ref)).status == "IDLE"

    refused = ProviderRejected("memory", "quota exceeded")
    provider.fail_next(1, refused, method="reset_stream_key")
    assert (await provider.get_stream(ref)).stream_key == ref.stream_key  # other methods are not affected
    with pytest.raises(ProviderRejected) as caught:
        await provider.reset_stream_key(ref)
    assert caught.value is refused
    assert (await provider.get_stream(ref)).stream_key == ref.stream_key  # the failed call changed nothing
    assert await provider.reset_stream_key(ref) != ref.stream_key
    provider.fail_next(1, method="sign_playback")
    with pytest.raises(ProviderUnavailable):
        provider.sign_playback(ref, ttl_seconds=60)
    assert provider.calls.count("get_stream") == 5 and provider.calls[-1] == "sign_playback"
    with pytest.raises(ValueError):
        provider.fail_next(0)


async def test_playback_urls_and_tokens(settings: Settings) -> None:
    provider = MemoryProvider(settings)
    ref = _ref("mem_x", "key", "pb123", "SIGNED")
    signed = provider.sign_playback(ref, ttl_seconds=120)
    assert tokens.verify(signed.token, key=settings.signing_key, playback_id="pb123",
                         audience=memory_module.AUDIENCE) == signed.expires_at  # fmt: skip
    with pytest.raises(tokens.InvalidPlaybackToken):  # not a token the local /hls/ route accepts
        tokens.verify(signed.token, key=settings.signing_key, playback_id="pb123")
    assert provider.playback(ref, signed.token).hls_url == f"{memory_module.STREAM_URL}/pb123.m3u8?token={signed.token}"
    assert (
        provider.playback(_ref("mem_x", "key", "pb123"), "ignored").hls_url == f"{memory_module.STREAM_URL}/pb123.m3u8"
    )
    with pytest.raises(ProviderRejected):
        provider.sign_playback(ref, ttl_seconds=0)
    assert "streamid=key" in (provider.ingest_endpoints(ref).srt_url or "")


async def _actor(name: str) -> Principal:
    user = await ensure_user(name=name, roles=[])
    return Principal(user_id=str(user.id), name=user.name, roles=frozenset())


async def test_domain_commands_turn_provider_faults_into_typed_errors(deps: Deps) -> None:
    fake = deps.providers.get("memory")
    assert isinstance(fake, MemoryProvider)
    alice = await _actor("alice")
    fields = StreamFields(title="on the fake", playback_policy=PlaybackPolicy.SIGNED)

    fake.fail_next(1, method="create_stream")
    with pytest.raises(ProviderDown):  # unreachable → PROVIDER_UNAVAILABLE, nothing stored
        await streams.create_stream(deps=deps, actor=alice, fields=fields, provider="memory")
    assert await Stream.all().count() == 0
    stream = await streams.create_stream(deps=deps, actor=alice, fields=fields, provider="memory")
    assert stream.provider_stream_id in fake.streams

    fake.fail_next(1, ProviderRejected("memory", "no"), method="reset_stream_key")
    with pytest.raises(ProviderFailed) as caught:
        await streams.reset_stream_key(deps=deps, actor=alice, stream_id=str(stream.id))
    assert not isinstance(caught.value, ProviderDown) and "no" in caught.value.message
    assert (await Stream.get(id=stream.id)).stream_key == stream.stream_key

    issued = await playback.create_playback_token(deps=deps, actor=await _actor("bob"), stream_id=str(stream.id))
    assert issued.hls_url.endswith(f"/{stream.playback_id}.m3u8?token={issued.token}")
    fake.fail_next(1, ProviderRejected("memory", "signing is not configured"), method="sign_playback")
    with pytest.raises(ProviderFailed, match="signing is not configured"):
        await playback.create_playback_token(deps=deps, actor=alice, stream_id=str(stream.id))

    await streams.delete_stream(deps=deps, actor=alice, stream_id=str(stream.id))
    assert stream.provider_stream_id not in fake.streams
    with pytest.raises(ProviderNotFound):
        await fake.get_stream(streams.stream_ref(stream))
