"""A list of streams with their chat fields costs the same number of SQL queries for 3 streams as for 6:
pinned message, moderators, reaction counts, counts and chat settings go through per-request DataLoaders."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.helpers.chat import mutate, send
from tests.helpers.client import create_stream, gql_http

LIST = """{ streams(first: 50) { edges { node {
  id chatMessageCount reactionCount
  reactionCounts { emoji count }
  pinnedMessage { sequence content author { name } }
  moderators { name }
  chatSettings { chatEnabled slowModeSeconds blockedWords }
} } } }"""


async def _stream_with_chat(server: Server, owner: str, viewer: str, n: int) -> str:
    """A stream with ``n`` + 1 messages (the first pinned), moderator "mod-<n>", and n 🔥 + 1 ❤️ reactions."""
    url = server.graphql_http
    sid = (await create_stream(url, owner, title=f"Loaders {n}"))["id"]
    first = await send(url, viewer, sid, f"pinned {n}")
    for k in range(n):  # (under the owner's higher rate limit)
        await send(url, owner, sid, f"more {k}")
    await mutate(url, owner, "pinChatMessage", "$id: ID!", "id: $id", {"id": first["id"]})
    moderator = await server.token(f"mod-{n}")
    mod_id = (await gql_http(url, "{ me { id } }", token=moderator))["me"]["id"]
    await mutate(url, owner, "addModerator", "$s: ID!, $u: ID!", "streamId: $s, userId: $u", {"s": sid, "u": mod_id})
    react = "$s: ID!, $e: String!", "streamId: $s, emoji: $e, positionX: 50, positionY: 50"
    for emoji in ["🔥"] * n + ["❤️"]:
        assert (await mutate(url, owner, "sendReaction", *react, {"s": sid, "e": emoji}))["__typename"] == "Reaction"
    return sid


async def _listed(server: Server, caplog: pytest.LogCaptureFixture, token: str | None) -> tuple[dict[str, dict], int]:
    if token is not None:  # the caller's user row is read once per LIVECAST_AUTH_CACHE_SECONDS: not counted here
        await gql_http(server.graphql_http, "{ me { name } }", token=token)
    caplog.clear()
    edges = (await gql_http(server.graphql_http, LIST, token=token))["streams"]["edges"]
    queries = [r for r in caplog.records if r.name == "tortoise.db_client"]
    return {e["node"]["id"]: e["node"] for e in edges}, len(queries)


@pytest.fixture
async def quiet(settings: Settings) -> AsyncIterator[Server]:
    """The server without its background jobs, whose queries would be counted too."""
    async with run_server(settings, workers=False) as server:
        yield server


async def test_chat_fields_of_a_stream_list_are_batched(quiet: Server, caplog: pytest.LogCaptureFixture) -> None:
    server = quiet
    owner, viewer = await server.token("alice"), await server.token("bob")
    ids = [await _stream_with_chat(server, owner, viewer, n) for n in (1, 2, 3)]
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    counts = {}
    for who, token in (("owner", owner), ("viewer", viewer), ("anonymous", None)):
        listed, counts[who, 3] = await _listed(server, caplog, token)
        for n, sid in zip((1, 2, 3), ids, strict=True):
            node = listed[sid]
            assert node["chatMessageCount"] == n + 1 and node["reactionCount"] == n + 1
            assert {c["emoji"]: c["count"] for c in node["reactionCounts"]} == {"🔥": n, "❤️": 1}
            assert node["pinnedMessage"] == {"sequence": 1, "content": f"pinned {n}", "author": {"name": "bob"}}
            assert node["moderators"] == [{"name": f"mod-{n}"}]
            # Blocked words are for moderators (the owner is one): [] for them, null for everyone else.
            assert node["chatSettings"]["blockedWords"] == ([] if who == "owner" else None)
    caplog.set_level(logging.WARNING, logger="tortoise.db_client")
    ids += [await _stream_with_chat(server, owner, viewer, n) for n in (4, 5, 6)]
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    for who, token in (("owner", owner), ("viewer", viewer), ("anonymous", None)):
        listed, counts[who, 6] = await _listed(server, caplog, token)
        assert set(ids) <= set(listed)
        assert counts[who, 6] == counts[who, 3], (
            f"{who}: {counts[who, 3]} queries for 3 streams, {counts[who, 6]} for 6"
        )
    assert counts["viewer", 3] == 9, counts  # streams, rooms (2), reactions, moderators (2), pinned messages, users (2)
