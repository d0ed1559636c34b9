"""Mux streams and simulcast targets over real GraphQL (HTTP), with livecast talking to the Mux emulator through
the real mux-python SDK: Mux ingest/playback URLs, provider outages as typed errors, add/remove targets."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from livecast.domain.models import Stream
from livecast.domain.provider_models import SimulcastTarget
from livecast.settings import Settings
from tests.conftest import Server
from tests.emulators.mux import MuxEmulator
from tests.helpers.client import RESULT_FIELDS, create_stream, gql_http

CREATE = f"mutation($input: CreateStreamInput!) {{ createStream(input: $input) {{ {RESULT_FIELDS} }} }}"
ADD = """mutation($s: ID!, $url: String!, $key: String!) { addSimulcastTarget(streamId: $s, url: $url, streamKey: $key) {
  __typename ... on SimulcastTarget { id url status error } ... on Error { code message }
  ... on ValidationError { field } ... on ProviderError { retryable } ... on InvalidStateError { currentStatus } } }"""
REMOVE = """mutation($s: ID!, $t: ID!) { removeSimulcastTarget(streamId: $s, targetId: $t) {
  __typename ... on RemovedSimulcastTarget { id } ... on Error { code message } } }"""
TARGETS = "query($id: ID!) { stream(id: $id) { simulcastTargets { id url status error } } }"
CANCEL = "mutation($id: ID!) { cancelStream(id: $id) { __typename } }"


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    return {"provider_timeout_seconds": 1.0, "provider_retry_attempts": 2}


@pytest.fixture
def settings(mux_test_settings: Settings) -> Settings:
    """The shared test settings pointed at the Mux emulator (``tests/helpers/providers.py``)."""
    return mux_test_settings


async def add(server: Server, token: str, stream_id: str, url: str, key: str) -> dict[str, Any]:
    variables = {"s": stream_id, "url": url, "key": key}
    return (await gql_http(server.graphql_http, ADD, variables, token))["addSimulcastTarget"]


async def targets(server: Server, token: str | None, stream_id: str) -> list[dict[str, Any]]:
    return (await gql_http(server.graphql_http, TARGETS, {"id": stream_id}, token))["stream"]["simulcastTargets"]


async def test_create_mux_stream_returns_mux_urls(server: Server, mux_emulator: MuxEmulator) -> None:
    token = await server.token("alice")
    s = await create_stream(server.graphql_http, token, provider="mux", latencyMode="REDUCED", playbackPolicy="PUBLIC")
    ((mux_id, mux_stream),) = mux_emulator.live_streams.items()
    assert s["provider"] == "mux" and s["status"] == "SCHEDULED"
    assert s["ingest"]["rtmpUrl"] == "rtmps://global-live.mux.com:443/app"
    assert s["ingest"]["streamKey"] == mux_stream["stream_key"]
    srt = parse_qs(urlsplit(s["ingest"]["srtUrl"]).query)
    assert srt == {"streamid": [mux_stream["stream_key"]], "passphrase": [mux_stream["srt_passphrase"]]}
    playback_id = mux_stream["playback_ids"][0]["id"]
    assert s["playback"] == {"hlsUrl": f"https://stream.mux.com/{playback_id}.m3u8", "policy": "PUBLIC"}
    assert mux_stream["latency_mode"] == "reduced" and mux_stream["meta"] == {"title": "Test stream"}
    row = await Stream.get(id=s["id"])
    assert (row.provider_stream_id, row.stream_key, row.playback_id) == (mux_id, mux_stream["stream_key"], playback_id)


async def test_mux_down_is_a_retryable_provider_error(server: Server, mux_emulator: MuxEmulator) -> None:
    token = await server.token("alice")
    query = 'mutation { createStream(input: {title: "t", provider: "mux"}) { __typename ... on ProviderError { code message retryable } } }'
    async with mux_emulator.down():
        error = (await gql_http(server.graphql_http, query, token=token))["createStream"]
    assert (error["__typename"], error["code"], error["retryable"]) == ("ProviderError", "PROVIDER_UNAVAILABLE", True)
    assert "could not reach the Mux API" in error["message"]
    assert await Stream.all().count() == 0
    assert (await gql_http(server.graphql_http, query, token=token))["createStream"] == {"__typename": "Stream"}
    assert await Stream.filter(provider="mux").count() == 1


async def test_mux_refusal_is_a_final_provider_error(server: Server, mux_emulator: MuxEmulator) -> None:
    token = await server.token("alice")
    mux_emulator.fail_next(1, status=422)
    query = 'mutation { createStream(input: {title: "t", provider: "mux"}) { ... on ProviderError { code message retryable } } }'
    error = (await gql_http(server.graphql_http, query, token=token))["createStream"]
    assert error == {"code": "PROVIDER_ERROR", "message": error["message"], "retryable": False}
    assert "injected failure (422)" in error["message"] and mux_emulator.failures_served == 1
    assert await Stream.all().count() == 0


async def test_unavailable_error_is_marked_retryable(server: Server, mux_emulator: MuxEmulator) -> None:
    token = await server.token("alice")
    mux_emulator.fail_next(5, status=503)
    query = (
        'mutation { createStream(input: {title: "t", provider: "mux"}) { ... on ProviderError { code retryable } } }'
    )
    error = (await gql_http(server.graphql_http, query, token=token))["createStream"]
    assert error == {"code": "PROVIDER_UNAVAILABLE", "retryable": True}
    assert mux_emulator.failures_served == 2  # provider_retry_attempts


async def test_add_and_remove_simulcast_targets(server: Server, mux_emulator: MuxEmulator) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    sid = (await create_stream(server.graphql_http, alice, provider="mux"))["id"]
    (mux_stream,) = mux_emulator.live_streams.values()
    target = await add(server, alice, sid, "rtmp://a.rtmp.youtube.com/live2", " yt-secret ")
    assert target["__typename"] == "SimulcastTarget"
    assert (target["url"], target["status"], target["error"]) == ("rtmp://a.rtmp.youtube.com/live2", "IDLE", None)
    (on_mux,) = mux_stream["simulcast_targets"]
    assert (on_mux["url"], on_mux["stream_key"]) == ("rtmp://a.rtmp.youtube.com/live2", "yt-secret")
    row = await SimulcastTarget.get(id=target["id"])
    assert (row.provider_target_id, row.stream_key) == (on_mux["id"], "yt-secret")
    assert await targets(server, alice, sid) == [{k: target[k] for k in ("id", "url", "status", "error")}]
    assert await targets(server, bob, sid) == [] and await targets(server, None, sid) == []

    forbidden = await gql_http(server.graphql_http, REMOVE, {"s": sid, "t": target["id"]}, bob)
    assert forbidden["removeSimulcastTarget"]["code"] == "FORBIDDEN"
    removed = await gql_http(server.graphql_http, REMOVE, {"s": sid, "t": target["id"]}, alice)
    assert removed["removeSimulcastTarget"] == {"__typename": "RemovedSimulcastTarget", "id": target["id"]}
    assert mux_stream["simulcast_targets"] == [] and await targets(server, alice, sid) == []
    again = await gql_http(server.graphql_http, REMOVE, {"s": sid, "t": target["id"]}, alice)
    assert again["removeSimulcastTarget"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("url", "key", "field"),
    [
        ("http://example.com/live", "k", "url"),
        ("rtmp://", "k", "url"),
        ("rtmp://x/" + "a" * 2048, "k", "url"),
        ("rtmps://live.example.com/app", "   ", "streamKey"),
        ("rtmps://live.example.com/app", "two words", "streamKey"),
    ],
)
async def test_bad_targets_are_validation_errors(
    server: Server, mux_emulator: MuxEmulator, url: str, key: str, field: str
) -> None:
    token = await server.token("alice")
    sid = (await create_stream(server.graphql_http, token, provider="mux"))["id"]
    result = await add(server, token, sid, url, key)
    assert (result["__typename"], result["code"], result["field"]) == ("ValidationError", "VALIDATION", field)
    assert next(iter(mux_emulator.live_streams.values()))["simulcast_targets"] == []


async def test_target_refusals(server: Server, mux_emulator: MuxEmulator) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    sid = (await create_stream(server.graphql_http, alice, provider="mux"))["id"]
    assert (await add(server, bob, sid, "rtmp://live.example.com/app", "k"))["code"] == "FORBIDDEN"
    (mux_id,) = mux_emulator.live_streams
    mux_emulator.set_status(mux_id, "active")
    busy = await add(server, alice, sid, "rtmp://live.example.com/app", "k")
    assert busy["code"] == "PROVIDER_ERROR" and busy["retryable"] is False
    assert "only be added while the live stream is idle" in busy["message"]
    local = (await create_stream(server.graphql_http, alice))["id"]
    unsupported = await add(server, alice, local, "rtmp://live.example.com/app", "k")
    assert unsupported["code"] == "PROVIDER_ERROR" and "local pipeline" in unsupported["message"]
    await gql_http(server.graphql_http, CANCEL, {"id": local}, alice)
    cancelled = await add(server, alice, local, "rtmp://live.example.com/app", "k")
    assert (cancelled["code"], cancelled["currentStatus"]) == ("INVALID_STATE", "CANCELLED")
    assert await SimulcastTarget.all().count() == 0


async def test_the_stream_key_is_not_in_the_schema(server: Server) -> None:
    query = '{ __type(name: "SimulcastTarget") { fields { name } } }'
    fields = {f["name"] for f in (await gql_http(server.graphql_http, query))["__type"]["fields"]}
    assert fields == {"id", "url", "status", "error", "createdAt"}


async def test_stream_commands_reach_mux(server: Server, mux_emulator: MuxEmulator) -> None:
    token = await server.token("alice")
    sid = (await create_stream(server.graphql_http, token, provider="mux"))["id"]
    ((mux_id, mux_stream),) = mux_emulator.live_streams.items()
    update = f"mutation($id: ID!, $input: UpdateStreamInput!) {{ updateStream(id: $id, input: $input) {{ {RESULT_FIELDS} }} }}"
    changed = await gql_http(
        server.graphql_http, update, {"id": sid, "input": {"latencyMode": "LOW", "reconnectWindow": 10}}, token
    )
    assert changed["updateStream"]["latencyMode"] == "LOW"
    assert (mux_stream["latency_mode"], mux_stream["reconnect_window"]) == ("low", 10)
    signed = await gql_http(server.graphql_http, update, {"id": sid, "input": {"playbackPolicy": "SIGNED"}}, token)
    assert signed["updateStream"]["playback"]["policy"] == "SIGNED"  # a new playback id (test_mux_playback_ids.py)
    assert [p["policy"] for p in mux_stream["playback_ids"]] == ["signed"]
    assert (await Stream.get(id=sid)).playback_id == mux_stream["playback_ids"][0]["id"]
    reset = f"mutation($id: ID!) {{ resetStreamKey(id: $id) {{ {RESULT_FIELDS} }} }}"
    new_key = (await gql_http(server.graphql_http, reset, {"id": sid}, token))["resetStreamKey"]["ingest"]["streamKey"]
    assert new_key == mux_stream["stream_key"]
    delete = "mutation($id: ID!) { deleteStream(id: $id) { __typename } }"
    assert (await gql_http(server.graphql_http, delete, {"id": sid}, token))["deleteStream"][
        "__typename"
    ] == "DeletedStream"
    assert mux_id not in mux_emulator.live_streams
