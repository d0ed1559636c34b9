"""Mux stream details that must survive and change the Mux way, with the real mux-python SDK against the emulator:

* the SRT passphrase Mux returned at creation is stored with the stream, so ``ingest.srtUrl`` has it in a
  process whose Mux adapter never saw Mux's answer (a restart, another API replica), for the owner only, and
  never in logs;
* a playback policy change of a ``SCHEDULED`` Mux stream replaces its playback id (a Mux playback id's policy
  cannot change): a new id of the new policy, the old one deleted on Mux, the new URL in GraphQL; if the old id
  cannot be deleted the new one is removed again and nothing changes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from livecast.domain import lifecycle, streams
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.domain.errors import ProviderFailed
from livecast.domain.models import PlaybackPolicy, Stream, StreamStatus
from livecast.domain.validation import StreamFields
from livecast.providers.base import ProviderUnavailable, StreamRef, StreamSpec
from livecast.providers.mux import MuxProvider
from livecast.providers.registry import ProviderRegistry
from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.emulators.mux import BASE, MuxEmulator
from tests.helpers.client import RESULT_FIELDS, create_stream, gql_http

UPDATE = f"""mutation($id: ID!, $input: UpdateStreamInput!) {{
  updateStream(id: $id, input: $input) {{ {RESULT_FIELDS} }} }}"""
RESET = f"mutation($id: ID!) {{ resetStreamKey(id: $id) {{ {RESULT_FIELDS} }} }}"
DEBUG_QUERY_LOGGERS = {"aiosqlite", "tortoise.db_client", "asyncpg", "gql.transport.httpx"}
STREAM = "query($id: ID!) { stream(id: $id) { ingest { srtUrl streamKey } playback { hlsUrl policy } } }"


@pytest.fixture
def settings(mux_test_settings: Settings) -> Settings:
    """The shared test settings pointed at the Mux emulator (``tests/helpers/providers.py``)."""
    return mux_test_settings


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    async with run_server(settings, workers=False) as running:
        yield running


async def update(server: Server, token: str, stream_id: str, **changes: Any) -> dict[str, Any]:
    return (await gql_http(server.graphql_http, UPDATE, {"id": stream_id, "input": changes}, token))["updateStream"]


def srt_query(srt_url: str) -> dict[str, list[str]]:
    parts = urlsplit(srt_url)
    assert f"{parts.scheme}://{parts.netloc}" == "srt://global-live.mux.com:6001"
    return parse_qs(parts.query)


async def test_srt_passphrase_is_stored_and_served_after_a_restart(
    server: Server, settings: Settings, mux_emulator: MuxEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = await ensure_user(name="alice", roles=[])
    alice = Principal(user_id=str(user.id), name=user.name, roles=frozenset())
    # Created by another process (its own Mux adapter): the server's adapter never sees Mux's answer.
    elsewhere = dataclasses.replace(server.runtime.deps, providers=ProviderRegistry(settings))
    row = await streams.create_stream(deps=elsewhere, actor=alice, fields=StreamFields(title="srt"), provider="mux")
    mux_stream = mux_emulator.live_streams[str(row.provider_stream_id)]
    passphrase = mux_stream["srt_passphrase"]
    assert (await Stream.get(id=row.id)).srt_passphrase == passphrase

    token = await server.token("alice")
    seen = (await gql_http(server.graphql_http, STREAM, {"id": str(row.id)}, token))["stream"]
    assert srt_query(seen["ingest"]["srtUrl"]) == {"streamid": [mux_stream["stream_key"]], "passphrase": [passphrase]}
    fresh = MuxProvider(settings)  # a restarted process: nothing in memory
    ingest = fresh.ingest_endpoints(streams.stream_ref(await Stream.get(id=row.id)))
    assert srt_query(ingest.srt_url or "")["passphrase"] == [passphrase]

    reset = (await gql_http(server.graphql_http, RESET, {"id": str(row.id)}, token))["resetStreamKey"]
    assert srt_query(reset["ingest"]["srtUrl"]) == {"streamid": [mux_stream["stream_key"]], "passphrase": [passphrase]}
    assert reset["ingest"]["streamKey"] != row.stream_key, "a new key, the same passphrase (Mux keeps it)"

    bob = await server.token("bob")
    anonymous = (await gql_http(server.graphql_http, STREAM, {"id": str(row.id)}))["stream"]
    as_bob = (await gql_http(server.graphql_http, STREAM, {"id": str(row.id)}, bob))["stream"]
    assert anonymous["ingest"] is None and as_bob["ingest"] is None, "ingest (key and passphrase): owner only"
    assert passphrase not in repr(streams.stream_ref(row)) and passphrase not in str(row)
    leaks = {r.name for r in caplog.records if passphrase in r.getMessage()}
    # At DEBUG the database drivers log every query's parameters (stream keys too) and gql is the test's client.
    assert leaks <= DEBUG_QUERY_LOGGERS, f"the passphrase is a secret, never logged: {leaks}"
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and passphrase in r.getMessage()]


async def test_policy_change_gives_a_new_playback_id_and_deletes_the_old(
    server: Server, mux_emulator: MuxEmulator
) -> None:
    token = await server.token("alice")
    created = await create_stream(server.graphql_http, token, provider="mux", playbackPolicy="PUBLIC")
    sid = created["id"]
    ((mux_id, mux_stream),) = mux_emulator.live_streams.items()
    [old] = mux_stream["playback_ids"]
    assert created["playback"]["hlsUrl"] == f"https://stream.mux.com/{old['id']}.m3u8"
    asked = len(mux_emulator.requests)

    result = await update(server, token, sid, playbackPolicy="SIGNED")
    assert result["__typename"] == "Stream", result
    [new] = mux_stream["playback_ids"]
    assert new["policy"] == "signed" and new["id"] != old["id"]
    playback_ids = f"{BASE}/{mux_id}/playback-ids"
    assert [(m, p) for m, p, _ in mux_emulator.requests[asked:]] == [
        ("GET", f"{BASE}/{mux_id}"), ("PATCH", f"{BASE}/{mux_id}"),
        ("POST", playback_ids), ("DELETE", f"{playback_ids}/{old['id']}"),
    ]  # fmt: skip
    assert mux_emulator.requests[asked + 2][2] == {"policy": "signed"}
    async with httpx.AsyncClient(
        base_url=mux_emulator.url, auth=(mux_emulator.token_id, mux_emulator.token_secret)
    ) as http:
        assert (await http.get(f"{playback_ids}/{old['id']}")).status_code == 404, "the old (public) id is gone"
        assert (await http.get(f"{playback_ids}/{new['id']}")).json()["data"] == new

    assert result["playback"] == {"hlsUrl": f"https://stream.mux.com/{new['id']}.m3u8", "policy": "SIGNED"}
    token_query = "mutation($s: ID!) { createPlaybackToken(streamId: $s) { ... on PlaybackToken { token } } }"
    issued = (await gql_http(server.graphql_http, token_query, {"s": sid}, token))["createPlaybackToken"]
    assert jwt.decode(issued["token"], options={"verify_signature": False})["sub"] == new["id"], "tokens for the new id"
    row = await Stream.get(id=sid)
    assert (row.playback_id, row.playback_policy) == (new["id"], PlaybackPolicy.SIGNED)
    again = (await gql_http(server.graphql_http, STREAM, {"id": sid}, token))["stream"]["playback"]
    assert urlsplit(again["hlsUrl"]).path == f"/{new['id']}.m3u8"

    same = await update(server, token, sid, playbackPolicy="SIGNED", latencyMode="LOW")
    assert same["__typename"] == "Stream" and mux_stream["playback_ids"] == [new], "same policy: same id"
    back = await update(server, token, sid, playbackPolicy="PUBLIC")
    [public] = mux_stream["playback_ids"]
    assert public["policy"] == "public" and back["playback"]["hlsUrl"] == f"https://stream.mux.com/{public['id']}.m3u8"

    await lifecycle.transition(bus=server.runtime.deps.bus, stream_id=sid, to=StreamStatus.PREPARING, reason="encoder")
    refused = await update(server, token, sid, playbackPolicy="SIGNED")
    assert (refused["__typename"], refused["code"]) == ("InvalidStateError", "INVALID_STATE")
    assert mux_stream["playback_ids"] == [public], "only before the stream starts"


async def test_old_id_that_cannot_be_deleted_leaves_everything_as_it_was(
    settings: Settings, mux_emulator: MuxEmulator
) -> None:
    mux = MuxProvider(settings)
    spec = StreamSpec("t", "STANDARD", "PUBLIC", 60, 3600, recording_enabled=False)
    p = await mux.create_stream(spec)
    ref = StreamRef(p.provider_stream_id, p.stream_key, p.playback_id, "SIGNED", p.srt_passphrase)
    mux_stream = mux_emulator.live_streams[str(p.provider_stream_id)]
    mux_emulator.fail_route("DELETE", f"/playback-ids/{p.playback_id}", 500, n=settings.provider_retry_attempts)
    asked = len(mux_emulator.requests)
    with pytest.raises(ProviderUnavailable):
        await mux.update_stream(ref, dataclasses.replace(spec, playback_policy="SIGNED"))
    assert mux_stream["playback_ids"] == [{"id": p.playback_id, "policy": "public"}], "the new id was removed again"
    log = [(method, path) for method, path, _ in mux_emulator.requests[asked:]]  # the failed DELETEs are not logged
    assert [method for method, _ in log] == ["GET", "PATCH", "POST", "DELETE"]
    assert log[-1][1].startswith(f"{BASE}/{p.provider_stream_id}/playback-ids/") and p.playback_id not in log[-1][1]
    assert mux_emulator.failures_served == settings.provider_retry_attempts

    del mux_stream["playback_ids"][0]  # deleted on Mux meanwhile: the replacement just goes ahead
    new_id = await mux.update_stream(ref, dataclasses.replace(spec, playback_policy="SIGNED"))
    assert mux_stream["playback_ids"] == [{"id": new_id, "policy": "signed"}]


async def test_domain_keeps_the_old_id_when_mux_fails(mux_emulator: MuxEmulator, deps: Deps) -> None:
    user = await ensure_user(name="carol", roles=[])
    carol = Principal(user_id=str(user.id), name=user.name, roles=frozenset())
    row = await streams.create_stream(deps=deps, actor=carol, fields=StreamFields(title="t"), provider="mux")
    mux_stream = mux_emulator.live_streams[str(row.provider_stream_id)]
    mux_emulator.fail_route("POST", "/playback-ids", 400)
    signed = StreamFields(playback_policy=PlaybackPolicy.SIGNED)
    with pytest.raises(ProviderFailed, match=r"policy must be|injected failure"):
        await streams.update_stream(deps=deps, actor=carol, stream_id=str(row.id), fields=signed)
    stored = await Stream.get(id=row.id)
    assert (stored.playback_id, stored.playback_policy) == (row.playback_id, PlaybackPolicy.PUBLIC)
    assert mux_stream["playback_ids"] == [{"id": row.playback_id, "policy": "public"}]


async def test_emulator_validates_playback_id_requests(mux_emulator: MuxEmulator) -> None:
    async with httpx.AsyncClient(
        base_url=mux_emulator.url, auth=(mux_emulator.token_id, mux_emulator.token_secret)
    ) as http:
        stream_id = (await http.post(BASE, json={"playback_policy": ["public"]})).json()["data"]["id"]
        ids = f"{BASE}/{stream_id}/playback-ids"

        def invalid(response: httpx.Response) -> list[str]:
            assert response.status_code == 400, response.text
            return response.json()["error"]["messages"]

        assert invalid(await http.post(ids, json={"policy": "secret"})) == ["policy must be one of public, signed, drm"]
        assert invalid(await http.post(ids, json={"policy": "public", "ttl": 5})) == ["ttl is not a valid parameter"]
        assert "drm_configuration_id" in invalid(await http.post(ids, json={"policy": "drm"}))[0]
        signed_with_drm = await http.post(ids, json={"policy": "signed", "drm_configuration_id": "d"})
        assert "drm_configuration_id" in invalid(signed_with_drm)[0]
        assert invalid(await http.post(ids, content=b"[1]")) == ["the request body must be a JSON object"]
        created = await http.post(ids, json={"policy": "drm", "drm_configuration_id": "drm-1"})
        assert created.status_code == 201 and created.json()["data"]["policy"] == "drm"
        assert (await http.delete(f"{ids}/{created.json()['data']['id']}")).status_code == 204
        assert (await http.delete(f"{ids}/{created.json()['data']['id']}")).status_code == 404
        assert (await http.post(f"{BASE}/nope/playback-ids", json={"policy": "public"})).status_code == 404
