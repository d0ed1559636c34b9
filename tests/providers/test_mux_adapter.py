"""The Mux adapter with the real mux-python SDK against the local Mux emulator: every operation, error
translation, retries, timeouts, ingest/playback URLs and signed playback JWTs."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from pydantic import SecretStr

from livecast.providers.base import (
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
    StreamProvider,
    StreamRef,
    StreamSpec,
    WebhookRejected,
)
from livecast.providers.mux import MuxProvider
from livecast.providers.registry import ProviderRegistry
from livecast.settings import Settings
from tests.emulators.mux import MuxEmulator, mux_settings

SPEC = StreamSpec(
    title="Launch day", latency_mode="LOW", playback_policy="SIGNED", reconnect_window=120,
    max_continuous_duration=3600, recording_enabled=True,
)  # fmt: skip


@pytest.fixture
def mux(settings: Settings, mux_emulator: MuxEmulator) -> MuxProvider:
    return MuxProvider(mux_settings(settings, mux_emulator, provider_retry_attempts=3, provider_timeout_seconds=2.0))


async def created(mux: MuxProvider, spec: StreamSpec = SPEC) -> StreamRef:
    p = await mux.create_stream(spec)
    return StreamRef(p.provider_stream_id, p.stream_key, p.playback_id, spec.playback_policy, p.srt_passphrase)


async def test_registry_builds_it_and_it_satisfies_the_port(settings: Settings, mux_emulator: MuxEmulator) -> None:
    adapter = ProviderRegistry(mux_settings(settings, mux_emulator)).get("mux")
    assert isinstance(adapter, MuxProvider) and isinstance(adapter, StreamProvider) and adapter.name == "mux"


def test_not_configured_is_refused(settings: Settings) -> None:
    with pytest.raises(ProviderRejected, match="LIVECAST_MUX_TOKEN_ID and LIVECAST_MUX_TOKEN_SECRET"):
        MuxProvider(settings)
    with pytest.raises(ProviderRejected, match="not configured"):
        ProviderRegistry(settings).get("mux")


async def test_create_sends_mux_fields(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    p = await mux.create_stream(SPEC)
    stream = mux_emulator.live_streams[p.provider_stream_id]
    assert stream["stream_key"] == p.stream_key
    assert stream["playback_ids"] == [{"id": p.playback_id, "policy": "signed"}]
    method, path, body = mux_emulator.requests[-1]
    assert (method, path) == ("POST", "/video/v1/live-streams")
    assert body["playback_policies"] == ["signed"] and body["latency_mode"] == "low"
    assert (body["reconnect_window"], body["max_continuous_duration"]) == (120, 3600)
    assert body["new_asset_settings"]["playback_policies"] == ["signed"]
    assert "playback_policy" not in body and "playback_policy" not in body["new_asset_settings"]  # deprecated
    assert body["test"] is False and body["meta"] == {"title": "Launch day"}


async def test_create_without_recording_and_in_test_mode(settings: Settings, mux_emulator: MuxEmulator) -> None:
    mux = MuxProvider(mux_settings(settings, mux_emulator, mux_test_mode=True))
    spec = StreamSpec("t", "STANDARD", "PUBLIC", 0, 60, recording_enabled=False)
    p = await mux.create_stream(spec)
    body = mux_emulator.requests[-1][2]
    assert "new_asset_settings" not in body and body["test"] is True and body["reconnect_window"] == 0
    assert mux_emulator.live_streams[p.provider_stream_id]["playback_ids"][0]["policy"] == "public"


async def test_get_stream_reports_status_targets_and_assets(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    ref = await created(mux)
    state = await mux.get_stream(ref)
    assert (state.provider_stream_id, state.status, state.stream_key, state.playback_id) == (
        ref.provider_stream_id, "IDLE", ref.stream_key, ref.playback_id,
    )  # fmt: skip
    assert state.simulcast_targets == () and state.recent_asset_ids == ()
    target = await mux.add_simulcast_target(ref, url="rtmps://live.example.com/app", stream_key="yt-key")
    mux_emulator.set_status(ref.provider_stream_id, "active")
    state = await mux.get_stream(ref)
    assert state.status == "ACTIVE"
    assert [(t.id, t.url, t.status) for t in state.simulcast_targets] == [(target.id, target.url, "BROADCASTING")]
    assert state.recent_asset_ids == (mux_emulator.live_streams[ref.provider_stream_id]["active_asset_id"],)


async def test_update_patches_the_stream(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    ref = await created(mux)
    assert await mux.update_stream(ref, StreamSpec("New", "REDUCED", "SIGNED", 30, 7200, True)) is None
    stream = mux_emulator.live_streams[ref.provider_stream_id]
    assert (stream["latency_mode"], stream["reconnect_window"], stream["max_continuous_duration"]) == (
        "reduced",
        30,
        7200,
    )
    assert mux_emulator.requests[-1][:2] == ("PATCH", f"/video/v1/live-streams/{ref.provider_stream_id}")
    assert stream["playback_ids"] == [{"id": ref.playback_id, "policy": "signed"}], "same policy: same playback id"


async def test_complete_enable_disable_reset_delete(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    ref = await created(mux)
    stream = mux_emulator.live_streams[ref.provider_stream_id]
    mux_emulator.set_status(ref.provider_stream_id, "active")
    await mux.complete_stream(ref)
    assert stream["status"] == "idle"
    await mux.set_enabled(ref, False)
    assert stream["status"] == "disabled" and (await mux.get_stream(ref)).status == "DISABLED"
    await mux.set_enabled(ref, True)
    assert stream["status"] == "idle"
    new_key = await mux.reset_stream_key(ref)
    assert new_key != ref.stream_key and stream["stream_key"] == new_key
    await mux.delete_stream(ref)
    assert ref.provider_stream_id not in mux_emulator.live_streams
    await mux.delete_stream(ref)  # already gone on Mux: still deleted
    with pytest.raises(ProviderNotFound):
        await mux.get_stream(ref)
    with pytest.raises(ProviderNotFound):
        await mux.complete_stream(ref)


async def test_simulcast_targets(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    ref = await created(mux)
    target = await mux.add_simulcast_target(ref, url="rtmp://a.rtmp.youtube.com/live2", stream_key="abcd")
    assert (target.url, target.status) == ("rtmp://a.rtmp.youtube.com/live2", "IDLE")
    stored = mux_emulator.live_streams[ref.provider_stream_id]["simulcast_targets"]
    assert stored == [{"id": target.id, "status": "idle", "url": target.url, "stream_key": "abcd"}]
    with pytest.raises(ProviderRejected, match=r"url must be an RTMP or RTMPS URL .*\(HTTP 400\)"):
        await mux.add_simulcast_target(ref, url="https://example.com/live", stream_key="k")
    mux_emulator.set_status(ref.provider_stream_id, "active")
    with pytest.raises(ProviderRejected, match="only be deleted while the live stream is idle"):
        await mux.remove_simulcast_target(ref, target.id)
    mux_emulator.set_status(ref.provider_stream_id, "idle")
    await mux.remove_simulcast_target(ref, target.id)
    assert mux_emulator.live_streams[ref.provider_stream_id]["simulcast_targets"] == []
    await mux.remove_simulcast_target(ref, target.id)  # gone already: removed


async def test_ingest_and_playback_urls(settings: Settings, mux_emulator: MuxEmulator) -> None:
    mux = MuxProvider(mux_settings(settings, mux_emulator))
    ref = await created(mux)
    ingest = mux.ingest_endpoints(ref)
    assert (ingest.rtmp_url, ingest.stream_key) == ("rtmps://global-live.mux.com:443/app", ref.stream_key)
    srt = urlsplit(ingest.srt_url)
    assert f"{srt.scheme}://{srt.netloc}" == "srt://global-live.mux.com:6001"
    assert parse_qs(srt.query) == {
        "streamid": [ref.stream_key], "passphrase": [mux_emulator.live_streams[ref.provider_stream_id]["srt_passphrase"]],
    }  # fmt: skip
    assert mux.playback(ref).hls_url == f"https://stream.mux.com/{ref.playback_id}.m3u8"
    assert mux.playback(ref).policy == "SIGNED"
    assert mux.playback(ref, "a.b.c").hls_url == f"https://stream.mux.com/{ref.playback_id}.m3u8?token=a.b.c"


async def test_signed_playback_jwt_verifies(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    ref = await created(mux)
    before = int(time.time())
    token = mux.sign_playback(ref, ttl_seconds=600)
    kid = jwt.get_unverified_header(token.token)["kid"]
    claims = jwt.decode(token.token, mux_emulator.signing_keys[kid], algorithms=["RS256"], audience="v")
    assert kid == mux._settings.mux_signing_key_id
    assert claims["sub"] == ref.playback_id and claims["aud"] == "v"
    assert before + 600 <= claims["exp"] <= int(time.time()) + 600
    assert token.expires_at == datetime.fromtimestamp(claims["exp"], UTC)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token.token, mux_emulator.signing_keys[kid], algorithms=["RS256"], audience="t")


async def test_signing_accepts_a_raw_pem_and_refuses_garbage(settings: Settings, mux_emulator: MuxEmulator) -> None:
    configured = mux_settings(settings, mux_emulator)
    pem = base64.b64decode(configured.mux_signing_private_key.get_secret_value()).decode()
    raw = MuxProvider(configured.model_copy(update={"mux_signing_private_key": SecretStr(pem)}))
    ref = StreamRef("x", "k", "playback-1", "SIGNED")
    token = raw.sign_playback(ref, ttl_seconds=60).token
    key = mux_emulator.signing_keys[configured.mux_signing_key_id]
    assert jwt.decode(token, key, algorithms=["RS256"], audience="v")["sub"] == "playback-1"
    bad = MuxProvider(configured.model_copy(update={"mux_signing_private_key": SecretStr("bm90IGEga2V5")}))
    with pytest.raises(ProviderRejected, match="not an RSA PEM"):
        bad.sign_playback(ref, ttl_seconds=60)
    unset = MuxProvider(configured.model_copy(update={"mux_signing_key_id": None}))
    with pytest.raises(ProviderRejected, match="LIVECAST_MUX_SIGNING_KEY_ID"):
        unset.sign_playback(ref, ttl_seconds=60)


async def test_webhook_needs_a_secret(settings: Settings, mux_emulator: MuxEmulator) -> None:
    mux = MuxProvider(mux_settings(settings, mux_emulator, mux_webhook_secret=None))
    with pytest.raises(WebhookRejected, match="LIVECAST_MUX_WEBHOOK_SECRET"):
        mux.verify_webhook(b"{}", {})


async def test_wrong_credentials_are_rejected_without_retry(settings: Settings, mux_emulator: MuxEmulator) -> None:
    mux = MuxProvider(mux_settings(settings, mux_emulator, mux_token_secret="wrong", provider_retry_attempts=4))
    with pytest.raises(ProviderRejected, match=r"access token was refused: Unauthorized request \(HTTP 401\)"):
        await mux.create_stream(SPEC)
    assert mux_emulator.unauthorized == 1 and mux_emulator.live_streams == {}


async def test_client_side_validation_becomes_rejected(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    with pytest.raises(ProviderRejected, match="latency_mode"):
        await mux.create_stream(StreamSpec("t", "ULTRA", "PUBLIC", 60, 3600, False))
    assert mux_emulator.requests == []


async def test_transient_503_is_retried_then_succeeds(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    mux_emulator.fail_next(2, status=503)
    ref = await created(mux)
    assert mux_emulator.failures_served == 2 and ref.provider_stream_id in mux_emulator.live_streams
    mux_emulator.fail_next(1, status=429)
    assert (await mux.get_stream(ref)).status == "IDLE" and mux_emulator.failures_served == 3


async def test_persistent_503_gives_up_after_the_attempts(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    mux_emulator.fail_next(10, status=503)
    with pytest.raises(ProviderUnavailable, match=r"injected failure \(503\) \(HTTP 503\)"):
        await mux.create_stream(SPEC)
    assert mux_emulator.failures_served == 3 and mux_emulator.pending_failures == 7 and mux_emulator.live_streams == {}


async def test_a_hanging_api_times_out_never_hangs(settings: Settings, mux_emulator: MuxEmulator) -> None:
    mux = MuxProvider(mux_settings(settings, mux_emulator, provider_timeout_seconds=0.3, provider_retry_attempts=2))
    mux_emulator.hang()
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        await mux.create_stream(SPEC)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 0.6 + 2.0, elapsed  # 2 attempts × 0.3 s + at most 0.2 s backoff (+ slack for load)
    mux_emulator.release()
    assert (await created(mux)).provider_stream_id in mux_emulator.live_streams


async def test_an_unreachable_api_is_unavailable(mux: MuxProvider, mux_emulator: MuxEmulator) -> None:
    ref = await created(mux)
    async with mux_emulator.down():
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match="could not reach the Mux API"):
            await mux.get_stream(ref)
        assert time.monotonic() - started < 3.0  # 3 refused attempts + < 0.6 s backoff, no socket timeouts
    assert (await mux.get_stream(ref)).status == "IDLE"  # back after the outage
