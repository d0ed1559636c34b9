"""The stream API over real HTTP and websockets with the gql client: results, typed errors, permissions,
pagination."""

from __future__ import annotations

import asyncio

import pytest
from gql import GraphQLRequest

from livecast.domain.events import stream_channel
from tests.conftest import Server
from tests.helpers.client import RESULT_FIELDS, create_stream, gql_http, gql_http_errors, ws_session
from tests.helpers.waiting import eventually

CREATE = f"mutation($input: CreateStreamInput!) {{ createStream(input: $input) {{ {RESULT_FIELDS} }} }}"
UPDATE = (
    f"mutation($id: ID!, $input: UpdateStreamInput!) {{ updateStream(id: $id, input: $input) {{ {RESULT_FIELDS} }} }}"
)
STREAM = "query($id: ID!) { stream(id: $id) { id status ingest { streamKey rtmpUrl } playback { hlsUrl policy } owner { name } } }"


def command(name: str) -> str:
    if name == "deleteStream":
        return "mutation($id: ID!) { deleteStream(id: $id) { __typename ... on DeletedStream { id } ... on Error { code message } } }"
    return f"mutation($id: ID!) {{ {name}(id: $id) {{ {RESULT_FIELDS} }} }}"


async def test_create_returns_stream_with_ingest_and_playback(server: Server) -> None:
    token = await server.token("alice")
    s = await create_stream(server.graphql_http, token, title="  My show  ", description="d", latencyMode="LOW")
    assert s["title"] == "My show"
    assert s["status"] == "SCHEDULED" and s["provider"] == "local"
    assert (s["reconnectWindow"], s["maxContinuousDuration"], s["latencyMode"]) == (60, 43200, "LOW")
    assert s["ingest"]["rtmpUrl"] == server.settings.rtmp_base_url
    assert s["ingest"]["streamKey"].startswith("lk_") and len(s["ingest"]["streamKey"]) >= 32
    assert s["playback"]["hlsUrl"].startswith(f"{server.http}/hls/") and s["playback"]["hlsUrl"].endswith("/index.m3u8")
    assert s["owner"]["name"] == "alice"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "description": "d" * 5001}, "description"),
        ({"title": "ok", "reconnectWindow": -1}, "reconnectWindow"),
        ({"title": "ok", "reconnectWindow": 1801}, "reconnectWindow"),
        ({"title": "ok", "maxContinuousDuration": 59}, "maxContinuousDuration"),
        ({"title": "ok", "thumbnailUrl": "javascript:alert(1)"}, "thumbnailUrl"),
        ({"title": "ok", "provider": "nope"}, "provider"),
    ],
)
async def test_validation_errors_are_typed(server: Server, fields: dict, field: str) -> None:
    token = await server.token("alice")
    result = (await gql_http(server.graphql_http, CREATE, {"input": fields}, token))["createStream"]
    assert result["__typename"] == "ValidationError"
    assert (result["code"], result["field"]) == ("VALIDATION", field)
    assert result["message"]
    listing = await gql_http(server.graphql_http, "{ streams { edges { node { id } } } }")
    assert listing["streams"]["edges"] == [], "a refused create stores nothing"


async def test_title_boundaries_accepted(server: Server) -> None:
    token = await server.token("alice")
    for title in ("x", "y" * 200):
        assert (await create_stream(server.graphql_http, token, title=title))["title"] == title


async def test_unauthenticated_and_bad_tokens(server: Server) -> None:
    result = (await gql_http(server.graphql_http, CREATE, {"input": {"title": "t"}}))["createStream"]
    assert (result["__typename"], result["code"]) == ("UnauthenticatedError", "UNAUTHENTICATED")
    bad = (await gql_http(server.graphql_http, CREATE, {"input": {"title": "t"}}, "not.a.jwt"))["createStream"]
    assert bad["code"] == "UNAUTHENTICATED" and "invalid access token" in bad["message"]
    assert (await gql_http(server.graphql_http, "{ me { name } }"))["me"] is None
    token = await server.token("bob", ["admin"])
    me = (await gql_http(server.graphql_http, "{ me { name roles } }", token=token))["me"]
    assert me == {"name": "bob", "roles": ["admin"]}


async def test_ingest_is_owner_or_admin_only(server: Server) -> None:
    alice, mallory, admin = (
        await server.token("alice"),
        await server.token("mallory"),
        await server.token("root", ["admin"]),
    )
    s = await create_stream(server.graphql_http, alice)
    for token, sees in ((alice, True), (admin, True), (mallory, False), (None, False)):
        got = (await gql_http(server.graphql_http, STREAM, {"id": s["id"]}, token))["stream"]
        assert (got["ingest"] is not None) is sees
        assert got["playback"]["hlsUrl"] == s["playback"]["hlsUrl"]
        if sees:
            assert got["ingest"]["streamKey"] == s["ingest"]["streamKey"]


async def test_commands_permissions_and_states(server: Server) -> None:
    alice, mallory = await server.token("alice"), await server.token("mallory")
    s = await create_stream(server.graphql_http, alice)
    for name in ("endStream", "cancelStream", "resetStreamKey", "deleteStream"):
        refused = (await gql_http(server.graphql_http, command(name), {"id": s["id"]}, mallory))[name]
        assert (refused["__typename"], refused["code"]) == ("ForbiddenError", "FORBIDDEN")
    ended = (await gql_http(server.graphql_http, command("endStream"), {"id": s["id"]}, alice))["endStream"]
    assert (ended["__typename"], ended["code"], ended["currentStatus"]) == (
        "InvalidStateError",
        "INVALID_STATE",
        "SCHEDULED",
    )
    reset = (await gql_http(server.graphql_http, command("resetStreamKey"), {"id": s["id"]}, alice))["resetStreamKey"]
    assert reset["ingest"]["streamKey"] != s["ingest"]["streamKey"]
    updated = (
        await gql_http(
            server.graphql_http, UPDATE, {"id": s["id"], "input": {"title": "New", "reconnectWindow": 30}}, alice
        )
    )["updateStream"]
    assert (updated["title"], updated["reconnectWindow"]) == ("New", 30)
    bad = (await gql_http(server.graphql_http, UPDATE, {"id": s["id"], "input": {"reconnectWindow": 5000}}, alice))[
        "updateStream"
    ]
    assert (bad["code"], bad["field"]) == ("VALIDATION", "reconnectWindow")
    cancelled = (await gql_http(server.graphql_http, command("cancelStream"), {"id": s["id"]}, alice))["cancelStream"]
    assert cancelled["status"] == "CANCELLED"
    again = (await gql_http(server.graphql_http, command("cancelStream"), {"id": s["id"]}, alice))["cancelStream"]
    assert again["code"] == "INVALID_STATE"
    deleted = (await gql_http(server.graphql_http, command("deleteStream"), {"id": s["id"]}, alice))["deleteStream"]
    assert deleted == {"__typename": "DeletedStream", "id": s["id"]}
    missing = (await gql_http(server.graphql_http, command("endStream"), {"id": s["id"]}, alice))["endStream"]
    assert missing["code"] == "NOT_FOUND"
    assert (await gql_http(server.graphql_http, STREAM, {"id": "not-a-uuid"}))["stream"] is None


async def test_pagination(server: Server) -> None:
    tokens = [await server.token("alice"), await server.token("bob")]  # 23 streams: more than one owner may have open
    created = [(await create_stream(server.graphql_http, tokens[i % 2], title=f"s{i}"))["id"] for i in range(23)]
    query = "query($first: Int!, $after: String) { streams(first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    seen, after = [], None
    while True:
        page = (await gql_http(server.graphql_http, query, {"first": 10, "after": after}))["streams"]
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["endCursor"] == (page["edges"][-1]["cursor"] if page["edges"] else None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(created)), "newest first, each stream once"
    for first in (0, 101, -5):
        errors = await gql_http_errors(server.graphql_http, query, {"first": first})
        assert errors[0]["extensions"] == {"code": "VALIDATION", "field": "first"}
    errors = await gql_http_errors(server.graphql_http, query, {"first": 5, "after": "garbage!"})
    assert errors[0]["extensions"]["code"] == "VALIDATION"
    live = await gql_http(server.graphql_http, "{ streams(status: LIVE) { edges { node { id } } } }")
    assert live["streams"]["edges"] == []


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_status_subscription_over_both_protocols(server: Server, protocol: str) -> None:
    token = await server.token("alice")
    s = await create_stream(server.graphql_http, token)
    received: list[str] = []

    async def watch() -> None:
        async with ws_session(server.graphql_ws, protocol=protocol) as session:
            request = GraphQLRequest(
                "subscription($id: ID!) { streamStatusChanged(streamId: $id) { id status } }",
                variable_values={"id": s["id"]},
            )
            async for result in session.subscribe(request):
                received.append(result["streamStatusChanged"]["status"])
                return

    task = asyncio.create_task(watch())
    await eventually(lambda: server.runtime.deps.bus.subscriber_count(stream_channel(s["id"])) > 0)
    await gql_http(server.graphql_http, command("cancelStream"), {"id": s["id"]}, token)
    await asyncio.wait_for(task, 10)
    assert received == ["CANCELLED"]


async def test_subscription_to_unknown_stream_is_an_error(server: Server) -> None:
    from gql.transport.exceptions import TransportQueryError

    async with ws_session(server.graphql_ws) as session:
        request = GraphQLRequest(
            'subscription { streamStatusChanged(streamId: "00000000-0000-0000-0000-000000000000") { id } }'
        )
        with pytest.raises(TransportQueryError) as error:
            async for _ in session.subscribe(request):
                pass
    assert error.value.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_browser_origins_and_connection_init_auth(server: Server) -> None:
    import httpx
    import websockets
    from gql import Client
    from gql.transport.websockets import WebsocketsTransport

    from livecast.app import LivecastGraphQL
    from livecast.resolvers.context import RequestContext

    async with httpx.AsyncClient(base_url=server.http) as client:
        preflight = await client.options(
            "/graphql",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"},
        )  # fmt: skip
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] in (
            "*",
            "https://app.example",
        )
        graphiql = await client.get("/graphql", headers={"Accept": "text/html"})
        assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()

    # An overlay page on another origin may open the websocket (tokens are not cookies).
    async with websockets.connect(
        server.graphql_ws, subprotocols=["graphql-transport-ws"], origin="https://overlay.example"
    ) as ws:
        await ws.send('{"type": "connection_init", "payload": {}}')
        assert "connection_ack" in await asyncio.wait_for(ws.recv(), 5)

    token = await server.token("alice")
    good = WebsocketsTransport(url=server.graphql_ws, init_payload={"authorization": f"Bearer {token}"})
    async with Client(transport=good) as session:  # acknowledged
        assert session is not None
    view = LivecastGraphQL(server.settings)  # the same hook, observed directly: the context now carries alice
    context = RequestContext(deps=server.runtime.deps, connection_params={"authorization": f"Bearer {token}"})
    await view.on_ws_connect(context)
    assert context.principal is not None and context.principal.name == "alice"
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send('{"type": "connection_init", "payload": {"authorization": "Bearer nope"}}')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd.code == 4403
