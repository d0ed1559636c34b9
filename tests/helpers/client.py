"""GraphQL over HTTP and websockets with the third-party ``gql`` client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.helpers.waiting import eventually

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


async def gql_http(
    url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    """Execute over HTTP, or over a websocket (``graphql-transport-ws``, which carries queries and mutations
    too) for a ``ws://`` URL; returns ``data``. GraphQL errors raise ``TransportQueryError``."""
    transport: Any
    if url.startswith(("ws://", "wss://")):
        transport = WebsocketsTransport(url=url, headers=_headers(token), subprotocols=["graphql-transport-ws"])
    else:
        transport = HTTPXAsyncTransport(url=url, headers=_headers(token), timeout=30)
    async with Client(transport=transport) as session:
        return await session.execute(GraphQLRequest(query, variable_values=variables))


async def gql_http_errors(
    url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> list[dict[str, Any]]:
    """Execute a request expected to fail; returns the GraphQL ``errors`` list."""
    try:
        await gql_http(url, query, variables, token)
    except TransportQueryError as e:
        assert e.errors, e
        return e.errors
    raise AssertionError("expected GraphQL errors")


@asynccontextmanager
async def ws_session(
    url: str, *, protocol: str = "graphql-transport-ws", token: str | None = None
) -> AsyncIterator[Any]:
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


STATUS_SUBSCRIPTION = "subscription($id: ID!) { streamStatusChanged(streamId: $id) { id status startedAt endedAt } }"


class StatusWatcher:
    """Collects ``streamStatusChanged`` statuses from a websocket subscription until ENDED or CANCELLED."""

    def __init__(self, ws_url: str, stream_id: str, protocol: str = "graphql-transport-ws") -> None:
        self.ws_url, self.stream_id, self.protocol = ws_url, stream_id, protocol
        self.statuses: list[str] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self, subscribed: Callable[[], Awaitable[bool] | bool]) -> StatusWatcher:
        """Subscribe, and return once ``subscribed()`` says the server has registered the subscription."""
        self.task = asyncio.create_task(self._run())
        await eventually(subscribed, what="subscription")
        return self

    async def _run(self) -> None:
        async with ws_session(self.ws_url, protocol=self.protocol) as session:
            request = GraphQLRequest(STATUS_SUBSCRIPTION, variable_values={"id": self.stream_id})
            async for result in session.subscribe(request):
                self.statuses.append(result["streamStatusChanged"]["status"])
                if self.statuses[-1] in ("ENDED", "CANCELLED"):
                    return

    async def until(self, status: str, count: int = 1, timeout: float = 30) -> None:
        await eventually(lambda: self.statuses.count(status) >= count, timeout=timeout, what=f"{status} x{count}")
