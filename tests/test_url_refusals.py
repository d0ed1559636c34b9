"""URLs users give livecast over the API (issue #10, item 10): a stream's ``thumbnailUrl`` (create and update) and
``addSimulcastTarget``'s ``url`` refuse local, private and metadata addresses in every spelling, with a
``ValidationError`` naming the field and nothing stored (nor sent to Mux). The rule itself: ``tests/test_urls.py``."""

from __future__ import annotations

from typing import Any

import pytest

from livecast.domain.models import Stream
from livecast.domain.provider_models import SimulcastTarget
from livecast.settings import Settings
from tests.conftest import Server
from tests.emulators.mux import MuxEmulator
from tests.helpers.client import RESULT_FIELDS, create_stream, gql_http

CREATE = f"mutation($input: CreateStreamInput!) {{ createStream(input: $input) {{ {RESULT_FIELDS} }} }}"
UPDATE = (
    f"mutation($id: ID!, $input: UpdateStreamInput!) {{ updateStream(id: $id, input: $input) {{ {RESULT_FIELDS} }} }}"
)
ADD = """mutation($s: ID!, $url: String!, $key: String!) { addSimulcastTarget(streamId: $s, url: $url, streamKey: $key) {
  __typename ... on SimulcastTarget { id url } ... on Error { code message } ... on ValidationError { field } } }"""

HOSTS = [
    "127.0.0.1", "localhost", "foo.localhost", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "[::1]", "[fd00:ec2::254]", "[fe80::1]", "[::ffff:127.0.0.1]",
    "metadata.google.internal", "metadata", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "ⓛocalhost",
    "user:pass@example.com",
]  # fmt: skip
"""Hosts that no URL a user gives may point at (``user:pass@`` for userinfo)."""
SPELLINGS = ["https://example.com/a b.png", "https://example.com/\x07.png", "https://example.com\\@10.0.0.1/"]


def thumbnails() -> list[str]:
    return [f"http://{host}/thumb.png" for host in HOSTS] + SPELLINGS


def destinations() -> list[str]:
    return [f"rtmp://{host}/live" for host in HOSTS] + [u.replace("https", "rtmps") for u in SPELLINGS]


@pytest.fixture
def settings(mux_test_settings: Settings) -> Settings:
    """The shared test settings pointed at the Mux emulator (``tests/helpers/providers.py``)."""
    return mux_test_settings


def refused(result: dict[str, Any], field: str, url: str) -> None:
    assert result["__typename"] == "ValidationError", f"{url!r} was accepted: {result}"
    assert (result["code"], result["field"]) == ("VALIDATION", field), url
    assert result["message"].startswith(f"{field} "), result


async def test_create_stream_refuses_local_thumbnail_urls(server: Server) -> None:
    token = await server.token("alice")
    for url in thumbnails():
        result = await gql_http(server.graphql_http, CREATE, {"input": {"title": "t", "thumbnailUrl": url}}, token)
        refused(result["createStream"], "thumbnailUrl", url)
    assert await Stream.all().count() == 0
    good = "https://cdn.example.com/thumbs/1.png"
    created = await create_stream(server.graphql_http, token, thumbnailUrl=good)
    assert (await Stream.get(id=created["id"])).thumbnail_url == good


async def test_update_stream_refuses_local_thumbnail_urls(server: Server) -> None:
    token = await server.token("alice")
    good = "https://cdn.example.com/thumbs/1.png"
    stream_id = (await create_stream(server.graphql_http, token, thumbnailUrl=good))["id"]
    for url in thumbnails():
        result = await gql_http(server.graphql_http, UPDATE, {"id": stream_id, "input": {"thumbnailUrl": url}}, token)
        refused(result["updateStream"], "thumbnailUrl", url)
    assert (await Stream.get(id=stream_id)).thumbnail_url == good


async def test_add_simulcast_target_refuses_local_destinations(server: Server, mux_emulator: MuxEmulator) -> None:
    token = await server.token("alice")
    stream_id = (await create_stream(server.graphql_http, token, provider="mux"))["id"]
    (mux_stream,) = mux_emulator.live_streams.values()
    for url in destinations():
        result = await gql_http(server.graphql_http, ADD, {"s": stream_id, "url": url, "key": "k"}, token)
        refused(result["addSimulcastTarget"], "url", url)
    assert mux_stream["simulcast_targets"] == [] and await SimulcastTarget.all().count() == 0
    good = "rtmps://live-api-s.facebook.com:443/rtmp/"
    added = await gql_http(server.graphql_http, ADD, {"s": stream_id, "url": good, "key": "k"}, token)
    assert added["addSimulcastTarget"]["url"] == good
    assert [target["url"] for target in mux_stream["simulcast_targets"]] == [good]
