"""GraphQL snippets and a subscriber for chat tests."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from tests.helpers.client import gql_http, ws_session

ERROR_FIELDS = "... on Error { code message }"
"""Valid on every result union; add ``... on ValidationError { field }`` etc. where the union has them."""
SEND_ERRORS = """
  ... on ValidationError { field }
  ... on BannedError { until }
  ... on SlowModeError { retryAfter }
  ... on RateLimitedError { retryAfter }
"""
MESSAGE_FIELDS = "id sequence content deleted author { id name }"
SEND = f"""mutation($s: ID!, $c: String!) {{ sendChatMessage(streamId: $s, content: $c) {{
  __typename ... on ChatMessage {{ {MESSAGE_FIELDS} }} {ERROR_FIELDS} {SEND_ERRORS} }} }}"""
FEED = """subscription($s: ID!, $after: Int) { chatMessages(streamId: $s, afterSequence: $after) { events {
  __typename
  ... on ChatMessage { id sequence content deleted author { name } }
  ... on ChatMessageDeleted { messageId sequence }
  ... on ChatPinChanged { messageId pinned }
  ... on ChatPinState { pinnedMessageId }
} } }"""


async def send(url: str, token: str, stream_id: str, content: str) -> dict[str, Any]:
    return (await gql_http(url, SEND, {"s": stream_id, "c": content}, token))["sendChatMessage"]


async def mutate(
    url: str, token: str | None, field: str, signature: str, args: str, variables: dict[str, Any], selection: str = ""
) -> dict[str, Any]:
    """``mutation(<signature>) { <field>(<args>) { __typename <selection> <error fields> } }``; returns the field."""
    query = f"mutation({signature}) {{ {field}({args}) {{ __typename {selection} {ERROR_FIELDS} }} }}"
    return (await gql_http(url, query, variables, token))[field]


class ChatSubscriber:
    """``chatMessages`` over a real websocket; collects events (dicts) until stopped or the server ends it."""

    def __init__(
        self, ws_url: str, stream_id: str, after: int | None = None, protocol: str = "graphql-transport-ws"
    ) -> None:
        self.ws_url, self.stream_id, self.after, self.protocol = ws_url, stream_id, after, protocol
        self.events: list[dict[str, Any]] = []
        self.batches = 0
        self.error: str | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with ws_session(self.ws_url, protocol=self.protocol) as session:
            request = GraphQLRequest(FEED, variable_values={"s": self.stream_id, "after": self.after})
            try:
                async for result in session.subscribe(request):
                    self.batches += 1
                    self.events.extend(result["chatMessages"]["events"])
            except TransportQueryError as e:
                self.error = e.errors[0].get("extensions", {}).get("code", str(e))

    def sequences(self) -> list[int]:
        return [e["sequence"] for e in self.events if e["__typename"] == "ChatMessage"]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
