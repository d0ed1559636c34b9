"""GraphQL over HTTP and websockets with the third-party ``gql`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

STREAM_FIELDS = """
  id title description status provider reconnectWindow maxContinuousDuration latencyMode
  scheduledAt startedAt endedAt isUpcoming
  owner { id name }
  ingest { rtmpUrl srtUrl streamKey }
  playback { hlsUrl policy }
"""

RESULT_FIELDS = f"""
  __typename
  ... on Stream {{ {STREAM_FIELDS} }}
  ... on Error {{ code message }}
  ... on ValidationError {{ field }}
  ... on InvalidStateError {{ currentStatus }}
"""


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def gql_http(url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    """Execute over HTTP; returns ``data``. GraphQL errors raise ``TransportQueryError``."""
    transport = HTTPXAsyncTransport(url=url, headers=_headers(token), timeout=30)
    async with Client(transport=transport) as session:
        return await session.execute(GraphQLRequest(query, variable_values=variables))


async def gql_http_errors(url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> list[dict[str, Any]]:
    """Execute a request expected to fail; returns the GraphQL ``errors`` list."""
    try:
        await gql_http(url, query, variables, token)
    except TransportQueryError as e:
        assert e.errors, e
        return e.errors
    raise AssertionError("expected GraphQL errors")


@asynccontextmanager
async def ws_session(url: str, *, protocol: str = "graphql-transport-ws", token: str | None = None) -> AsyncIterator[Any]:
    """A websocket session speaking ``graphql-transport-ws`` or the legacy ``graphql-ws`` protocol."""
    transport = WebsocketsTransport(url=url, headers=_headers(token), subprotocols=[protocol])
    async with Client(transport=transport) as session:
        yield session


async def create_stream(url: str, token: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("title", "Test stream")
    data = await gql_http(
        url,
        f"mutation($input: CreateStreamInput!) {{ createStream(input: $input) {{ {RESULT_FIELDS} }} }}",
        {"input": fields},
        token,
    )
    result = data["createStream"]
    assert result["__typename"] == "Stream", result
    return result
