"""Moderation as it happens over real websockets (``moderationActions``), and chat counts under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from livecast.domain.auth import ensure_user
from livecast.domain.events import MODERATION, stream_channel
from tests.conftest import Server
from tests.helpers.chat import ChatSubscriber, mutate, send
from tests.helpers.client import create_stream, gql_http, ws_session
from tests.helpers.waiting import eventually

ACTIONS = "subscription($s: ID!) { moderationActions(streamId: $s) { action actorId targetUserId detail at } }"
USER_ARGS = "$s: ID!, $u: ID!", "streamId: $s, userId: $u"


async def _user_id(name: str) -> str:
    return str((await ensure_user(name=name, roles=[])).id)


async def _refusal(server: Server, sid: str, token: str | None, protocol: str) -> str:
    async with ws_session(server.graphql_ws, token=token, protocol=protocol) as session:
        try:
            async for _ in session.subscribe(GraphQLRequest(ACTIONS, variable_values={"s": sid})):
                return "an event"
        except TransportQueryError as e:
            return str(e.errors[0]["extensions"]["code"])
    return "ended"


async def test_moderators_see_moderation_as_it_happens(server: Server) -> None:
    url = server.graphql_http
    owner, mod, viewer = await server.token("alice"), await server.token("carol"), await server.token("bob")
    sid = (await create_stream(url, owner))["id"]
    alice, carol, bob = [await _user_id(n) for n in ("alice", "carol", "bob")]
    await mutate(url, owner, "addModerator", *USER_ARGS, {"s": sid, "u": carol})
    received: list[dict[str, Any]] = []

    async def watch() -> None:
        async with ws_session(server.graphql_ws, token=mod) as session:
            async for result in session.subscribe(GraphQLRequest(ACTIONS, variable_values={"s": sid})):
                received.append(result["moderationActions"])

    task = asyncio.create_task(watch())
    try:
        bus = server.runtime.deps.bus
        await eventually(
            lambda: bus.subscriber_count(stream_channel(sid, MODERATION)) == 1, what="the moderator's subscription"
        )
        message = await send(url, viewer, sid, "spam spam")
        await mutate(url, mod, "deleteChatMessage", "$id: ID!", "id: $id", {"id": message["id"]})
        await mutate(
            url,
            owner,
            "banUser",
            "$s: ID!, $u: ID!, $d: Int",
            "streamId: $s, userId: $u, duration: $d",
            {"s": sid, "u": bob, "d": 60},
        )
        settings = "$s: ID!, $i: ChatSettingsInput!", "streamId: $s, input: $i"
        await mutate(url, mod, "setChatSettings", *settings, {"s": sid, "i": {"slowModeSeconds": 10}})
        await eventually(lambda: len(received) >= 3, what="three actions")
        assert [(e["action"], e["actorId"], e["targetUserId"]) for e in received] == [
            ("DELETE_MESSAGE", carol, bob), ("TIMEOUT", alice, bob), ("SETTINGS", carol, None)
        ]  # fmt: skip
        log = await gql_http(url, "query($s: ID!) { moderationLog(streamId: $s) { action at } }", {"s": sid}, owner)
        assert [(e["action"], e["at"]) for e in log["moderationLog"][::-1]][-3:] == [(e["action"], e["at"]) for e in received], \
            "what is sent is what was recorded"  # fmt: skip
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    for token, code in ((viewer, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        for protocol in ("graphql-transport-ws", "graphql-ws"):
            assert await _refusal(server, sid, token, protocol) == code


async def test_counts_stay_right_under_concurrent_sends_reactions_and_deletes(server: Server) -> None:
    url = server.graphql_http
    owner = await server.token("alice")
    mods = [await server.token(f"mod{n}") for n in range(3)]  # privileged: a higher rate limit
    sid = (await create_stream(url, owner))["id"]
    for n in range(3):
        await mutate(url, owner, "addModerator", *USER_ARGS, {"s": sid, "u": await _user_id(f"mod{n}")})
    writers = [owner, *mods]
    live = ChatSubscriber(server.graphql_ws, sid, after=0)
    try:
        sent = await asyncio.gather(*(send(url, writers[k % 4], sid, f"m{k}") for k in range(60)))
        assert {s["__typename"] for s in sent} == {"ChatMessage"}
        react = "$s: ID!, $e: String!", "streamId: $s, emoji: $e, positionX: 10, positionY: 20"
        reactions = await asyncio.gather(
            *(mutate(url, writers[k % 4], "sendReaction", *react, {"s": sid, "e": "🎉👏"[k % 2]}) for k in range(80))
        )
        assert {r["__typename"] for r in reactions} == {"Reaction"}
        doomed = [s["id"] for s in sent[:20]]  # each deleted twice at once: counted once
        deletes = await asyncio.gather(*(mutate(url, writers[k % 4], "deleteChatMessage", "$id: ID!", "id: $id", {"id": i})
                                         for k, i in enumerate(doomed * 2)))  # fmt: skip
        assert {d["__typename"] for d in deletes} == {"ChatMessage"}
        counts = await gql_http(
            url,
            "query($s: ID!) { stream(id: $s) { chatMessageCount reactionCount reactionCounts { emoji count } } }",
            {"s": sid},
        )
        assert counts["stream"]["chatMessageCount"] == 40
        assert counts["stream"]["reactionCount"] == 80
        assert {c["emoji"]: c["count"] for c in counts["stream"]["reactionCounts"]} == {"🎉": 40, "👏": 40}
        await eventually(
            lambda: len([e for e in live.events if e["__typename"] == "ChatMessageDeleted"]) >= 20, what="the deletions"
        )
        assert live.sequences() == list(range(1, 61))
        deleted = [e["sequence"] for e in live.events if e["__typename"] == "ChatMessageDeleted"]
        assert sorted(deleted) == sorted(s["sequence"] for s in sent[:20]), "one deletion event per message"
    finally:
        await live.stop()
