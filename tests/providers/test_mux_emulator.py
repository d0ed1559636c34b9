"""The Mux emulator itself, driven with raw HTTP (httpx): auth, response shapes and Mux-like validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.emulators.mux import MuxEmulator

BASE = "/video/v1/live-streams"


@pytest.fixture
async def http(mux_emulator: MuxEmulator) -> AsyncIterator[httpx.AsyncClient]:
    auth = (mux_emulator.token_id, mux_emulator.token_secret)
    async with httpx.AsyncClient(base_url=mux_emulator.url, auth=auth, timeout=5) as client:
        yield client


def invalid(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_parameters"
    return error["messages"]


async def test_basic_auth_is_required(mux_emulator: MuxEmulator) -> None:
    async with httpx.AsyncClient(base_url=mux_emulator.url) as anonymous:
        for auth in (None, (mux_emulator.token_id, "wrong"), ("someone", mux_emulator.token_secret)):
            r = await anonymous.post(BASE, json={"playback_policy": ["public"]}, auth=auth)
            assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"
    assert mux_emulator.unauthorized == 3
    assert mux_emulator.live_streams == {}


async def test_create_get_list_and_not_found(http: httpx.AsyncClient, mux_emulator: MuxEmulator) -> None:
    r = await http.post(
        BASE,
        json={
            "playback_policy": "public",
            "latency_mode": "reduced",
            "new_asset_settings": {"playback_policy": ["public"]},
        },
    )
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["status"] == "idle" and data["latency_mode"] == "reduced" and data["reconnect_window"] == 60
    assert [p["policy"] for p in data["playback_ids"]] == ["public"] and data["stream_key"]
    assert mux_emulator.live_streams[data["id"]] == data
    assert (await http.get(f"{BASE}/{data['id']}")).json()["data"]["id"] == data["id"]
    assert [s["id"] for s in (await http.get(BASE)).json()["data"]] == [data["id"]]
    missing = await http.get(f"{BASE}/nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"latency_mode": "ultra"}, "latency_mode must be one of low, reduced, standard"),
        ({"reconnect_window": 1801}, "reconnect_window must be between 0 and 1800"),
        ({"reconnect_window": -1}, "reconnect_window must be between 0 and 1800"),
        ({"reconnect_window": "60"}, "reconnect_window must be a number"),
        ({"max_continuous_duration": 59}, "max_continuous_duration must be between 60 and 43200"),
        ({"max_continuous_duration": 60.5}, "max_continuous_duration must be an integer"),
        ({"playback_policy": []}, "playback_policy must be a non-empty array"),
        ({"playback_policy": ["public", "secret"]}, "playback_policy contains an invalid value 'secret'"),
        ({"test": "yes"}, "test must be a boolean"),
        ({"new_asset_settings": {"playback_policy": ["bogus"]}}, "new_asset_settings.playback_policy contains"),
        ({"new_asset_settings": "mp4"}, "new_asset_settings must be a JSON object"),
        ({"colour": "blue"}, "colour is not a valid parameter"),
        ({"simulcast_targets": [{"url": "http://x/y"}]}, "url must be an RTMP or RTMPS URL"),
        (["playback_policy"], "the request body must be a JSON object"),
    ],
)
async def test_malformed_creates_are_refused(
    http: httpx.AsyncClient, mux_emulator: MuxEmulator, body: Any, message: str
) -> None:
    messages = invalid(await http.post(BASE, json=body))
    assert any(m.startswith(message) for m in messages), messages
    assert mux_emulator.live_streams == {}


async def test_invalid_json_is_refused(http: httpx.AsyncClient) -> None:
    r = await http.post(BASE, content=b"{nope", headers={"content-type": "application/json"})
    assert invalid(r) == ["The request body is not valid JSON"]


async def test_update_and_lifecycle_routes(http: httpx.AsyncClient, mux_emulator: MuxEmulator) -> None:
    stream_id = (await http.post(BASE, json={"playback_policy": ["signed"]})).json()["data"]["id"]
    one = f"{BASE}/{stream_id}"
    assert invalid(await http.patch(one, json={"latency_mode": "fast"}))
    assert invalid(await http.patch(one, json={"stream_key": "mine"})) == ["stream_key is not a valid parameter"]
    r = await http.patch(one, json={"reconnect_window": 5.5, "latency_mode": "low"})
    assert (r.json()["data"]["reconnect_window"], r.json()["data"]["latency_mode"]) == (5.5, "low")
    old_key = mux_emulator.live_streams[stream_id]["stream_key"]
    assert (await http.post(f"{one}/reset-stream-key")).json()["data"]["stream_key"] != old_key
    assert (await http.put(f"{one}/disable")).json() == {"data": {}}
    assert mux_emulator.live_streams[stream_id]["status"] == "disabled"
    await http.put(f"{one}/enable")
    mux_emulator.set_status(stream_id, "active")
    assert (await http.put(f"{one}/complete")).json() == {"data": {}}
    assert mux_emulator.live_streams[stream_id]["status"] == "idle"
    assert (await http.delete(one)).status_code == 204 and stream_id not in mux_emulator.live_streams


async def test_simulcast_target_routes(http: httpx.AsyncClient, mux_emulator: MuxEmulator) -> None:
    stream_id = (await http.post(BASE, json={"playback_policy": ["public"]})).json()["data"]["id"]
    targets = f"{BASE}/{stream_id}/simulcast-targets"
    assert invalid(await http.post(targets, json={"stream_key": "k"})) == ["url is required"]
    assert invalid(await http.post(targets, json={"url": "srt://x:1", "stream_key": "k"}))
    r = await http.post(targets, json={"url": "rtmps://live.example/app", "stream_key": "k", "passthrough": "yt"})
    target = r.json()["data"]
    assert r.status_code == 201 and target["status"] == "idle" and target["passthrough"] == "yt"
    assert (await http.get(f"{targets}/{target['id']}")).json()["data"] == target
    mux_emulator.set_status(stream_id, "active")
    assert invalid(await http.post(targets, json={"url": "rtmp://x/y", "stream_key": "k"}))
    mux_emulator.set_status(stream_id, "idle")
    assert (await http.delete(f"{targets}/{target['id']}")).status_code == 204
    assert (await http.get(f"{targets}/{target['id']}")).status_code == 404


async def test_fault_injection(http: httpx.AsyncClient, mux_emulator: MuxEmulator) -> None:
    mux_emulator.fail_next(2, status=503)
    assert [(await http.get(BASE)).status_code for _ in range(3)] == [503, 503, 200]
    async with mux_emulator.down():
        with pytest.raises(httpx.ConnectError):
            await http.get(BASE)
    assert (await http.get(BASE)).status_code == 200
    mux_emulator.hang()
    with pytest.raises(httpx.ReadTimeout):
        await http.get(BASE, timeout=0.2)
    mux_emulator.release()
    assert (await http.get(BASE)).status_code == 200
