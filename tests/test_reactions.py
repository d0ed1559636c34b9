"""Reactions and rate limits over real HTTP and websockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gql import GraphQLRequest

from livecast.domain.events import REACTIONS, stream_channel
from livecast.settings import Settings
from tests.conftest import run_server
from tests.helpers.chat import mutate, send
from tests.helpers.client import create_stream, gql_http, ws_session
from tests.helpers.waiting import eventually

REACT = "$s: ID!, $e: String!, $x: Float!, $y: Float!"
REACT_ARGS = "streamId: $s, emoji: $e, positionX: $x, positionY: $y"
FAMILY = "👨\u200d👩\u200d👧"


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "chat_rate_limit": "3/10 seconds",
        "reaction_rate_limit": "5/10 seconds",
        "chat_rate_limit_privileged": "6/10 seconds",
        "reaction_rate_limit_privileged": "8/10 seconds",
        "reaction_emojis": ["👍🏽", "❤️", FAMILY, "🔥"],
    })  # fmt: skip


async def react(url: str, token: str, sid: str, emoji: str, x: float = 50, y: float = 50) -> dict[str, Any]:
    selection = "... on Reaction { emoji positionX positionY } ... on ValidationError { field } ... on RateLimitedError { retryAfter }"
    return await mutate(
        url, token, "sendReaction", REACT, REACT_ARGS, {"s": sid, "e": emoji, "x": x, "y": y}, selection
    )


@pytest.fixture(params=["http", "websocket"])
def via(request: pytest.FixtureRequest) -> str:
    """Mutations and queries over HTTP or over a websocket (graphql-transport-ws)."""
    return str(request.param)


async def test_reactions_validate_count_and_fan_out(limited: Settings, via: str) -> None:
    async with run_server(limited) as server:
        url = server.graphql_http if via == "http" else server.graphql_ws
        owner, viewer = await server.token("alice"), await server.token("bob")
        sid = (await create_stream(url, owner))["id"]
        received: list[dict[str, Any]] = []

        async def watch() -> None:
            query = "subscription($s: ID!) { reactions(streamId: $s) { reactions { emoji positionX positionY } } }"
            async with ws_session(server.graphql_ws) as session:
                async for batch in session.subscribe(GraphQLRequest(query, variable_values={"s": sid})):
                    received.extend(batch["reactions"]["reactions"])

        task = asyncio.create_task(watch())
        try:
            bus = server.runtime.deps.bus
            await eventually(lambda: bus.subscriber_count(stream_channel(sid, REACTIONS)) == 1, what="subscriber")
            assert await react(url, viewer, sid, "👍🏽", 10, 90.5) == {
                "__typename": "Reaction",
                "emoji": "👍🏽",
                "positionX": 10,
                "positionY": 90.5,
            }
            assert (await react(url, viewer, sid, "❤", 0, 100))["emoji"] == "❤️", "U+FE0F does not matter"
            assert (await react(url, viewer, sid, FAMILY))["emoji"] == FAMILY, "a ZWJ sequence is one emoji"
            for bad in ("👍", "👍🏽👍🏽", "a", "", "🔥 "):
                refused = await react(url, viewer, sid, bad)
                assert (refused["code"], refused["field"]) == ("VALIDATION", "emoji"), bad
            for x, y, field in ((-1, 5, "positionX"), (5, 100.1, "positionY")):
                assert (await react(url, viewer, sid, "🔥", x, y))["field"] == field
            await eventually(lambda: len(received) >= 3, what="three reactions")
            assert [r["emoji"] for r in received] == ["👍🏽", "❤️", FAMILY]
            counts = await gql_http(
                url, "query($s: ID!) { stream(id: $s) { reactionCount reactionCounts { emoji count } } }", {"s": sid}
            )
            assert counts["stream"]["reactionCount"] == 3
            assert sorted((c["emoji"], c["count"]) for c in counts["stream"]["reactionCounts"]) == sorted(
                [("👍🏽", 1), ("❤️", 1), (FAMILY, 1)]
            )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_per_user_rate_limits(limited: Settings, via: str) -> None:
    async with run_server(limited) as server:
        url = server.graphql_http if via == "http" else server.graphql_ws
        owner, viewer, other = await server.token("alice"), await server.token("bob"), await server.token("carol")
        sid = (await create_stream(url, owner))["id"]
        assert [(await send(url, viewer, sid, f"m{n}"))["__typename"] for n in range(3)] == ["ChatMessage"] * 3
        limited_msg = await send(url, viewer, sid, "one too many")
        assert limited_msg["code"] == "RATE_LIMITED" and 0 < limited_msg["retryAfter"] <= 10
        assert (await send(url, other, sid, "another user is not limited"))["__typename"] == "ChatMessage"
        for _ in range(5):
            assert (await react(url, viewer, sid, "🔥"))["__typename"] == "Reaction"
        assert (await react(url, viewer, sid, "🔥"))["code"] == "RATE_LIMITED"


async def test_owner_and_moderators_have_higher_limits_not_none(limited: Settings, via: str) -> None:
    async with run_server(limited) as server:
        url = server.graphql_http if via == "http" else server.graphql_ws
        owner, mod, viewer = await server.token("alice"), await server.token("carol"), await server.token("bob")
        sid = (await create_stream(url, owner))["id"]
        carol = (await gql_http(url, "{ me { id } }", token=mod))["me"]["id"]
        await mutate(url, owner, "addModerator", "$s: ID!, $u: ID!", "streamId: $s, userId: $u", {"s": sid, "u": carol})
        other = (await create_stream(url, viewer))["id"]  # bob's own stream: there he is privileged
        for token in (owner, mod):
            assert [(await send(url, token, sid, f"m{n}"))["__typename"] for n in range(6)] == ["ChatMessage"] * 6
            limited_msg = await send(url, token, sid, "one too many")
            assert limited_msg["code"] == "RATE_LIMITED" and 0 < limited_msg["retryAfter"] <= 10
            assert [(await react(url, token, sid, "🔥"))["__typename"] for _ in range(8)] == ["Reaction"] * 8
            assert (await react(url, token, sid, "🔥"))["code"] == "RATE_LIMITED"
        assert [(await send(url, viewer, sid, f"v{n}")).get("code") for n in range(4)] == [None] * 3 + ["RATE_LIMITED"]
        assert (await send(url, viewer, other, "privileged limits are counted apart"))["__typename"] == "ChatMessage"
        history = await gql_http(
            url, "query($s: ID!) { chatMessages(streamId: $s) { edges { node { content } } } }", {"s": sid}
        )
        assert "one too many" not in [e["node"]["content"] for e in history["chatMessages"]["edges"]], (
            "refused is not stored"
        )
