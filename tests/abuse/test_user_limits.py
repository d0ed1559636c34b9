"""Attack 9: one signed-in account trying to fill the database or burn the server's CPU.

Each attacker is a fresh user (the module's server is shared): huge chat messages (refused on their length, not
after emoji parsing of the whole text), a thousand ``createStream`` calls (refused past the open-stream limit:
the database keeps 20), create-and-cancel in a loop (refused past the creation rate: 50 a day), and an owner
flooding their own chat and reactions (refused past the privileged rate limits, not exempt).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecast.domain.chat_models import ChatMessage, Reaction
from livecast.domain.models import Stream
from tests.abuse.conftest import DEADLINE, Target

CREATE = """mutation($t: String!) { createStream(input: {title: $t}) { __typename ... on Stream { id }
  ... on Error { code message } } }"""
CREATE_RETRY = """mutation { createStream(input: {title: "again"}) { __typename ... on Error { code }
  ... on RateLimitedError { retryAfter } } }"""
"""(``StreamResult`` has ``RateLimitedError`` only since these limits: a separate document, sent once refused.)"""
CANCEL = "mutation($id: ID!) { cancelStream(id: $id) { __typename ... on Error { code } } }"
SEND = """mutation($s: ID!, $c: String!) { sendChatMessage(streamId: $s, content: $c) { __typename
  ... on Error { code } ... on ValidationError { field } ... on RateLimitedError { retryAfter } } }"""
REACT = """mutation($s: ID!) { sendReaction(streamId: $s, emoji: "🔥", positionX: 50, positionY: 50) { __typename
  ... on Error { code } ... on RateLimitedError { retryAfter } } }"""

OPEN_STREAMS = 20
"""``LIVECAST_MAX_OPEN_STREAMS_PER_OWNER``'s default."""
CREATES_PER_DAY = 50
"""``LIVECAST_STREAM_CREATE_RATE_LIMIT``'s default (50/day)."""
PRIVILEGED_CHAT = 100
"""``LIVECAST_CHAT_RATE_LIMIT_PRIVILEGED``'s default: 100 messages per 30 s."""
PRIVILEGED_REACTIONS = 60
"""``LIVECAST_REACTION_RATE_LIMIT_PRIVILEGED``'s default: 60 reactions per 10 s."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """One client with kept-alive connections for a test's requests (a client per request cost the test more
    than the server spent answering)."""
    async with httpx.AsyncClient(timeout=30) as shared:
        yield shared


async def timed(
    client: httpx.AsyncClient, target: Target, query: str, variables: dict[str, Any], token: str
) -> tuple[float, dict[str, Any]]:
    """(seconds, the mutation's result) for one request; the request must be answered without a server error."""
    started = time.monotonic()
    response = await client.post(
        target.graphql_url, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 200 and body.get("data"), (response.status_code, str(body)[:300])
    return elapsed, next(iter(body["data"].values()))


async def attacker(target: Target, role: str) -> tuple[str, str]:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    return name, await target.token(name)


async def new_stream(client: httpx.AsyncClient, target: Target, token: str) -> str:
    _, made = await timed(client, target, CREATE, {"t": "target"}, token)
    assert made["__typename"] == "Stream", made
    return made["id"]


async def test_huge_chat_messages_are_refused_on_their_length(target: Target, client: httpx.AsyncClient) -> None:
    _, owner = await attacker(target, "owner")
    _, viewer = await attacker(target, "viewer")
    sid = await new_stream(client, target, owner)  # SCHEDULED: chat is open before the stream goes live
    content = "a" * 900_000  # 900 KB: ~0.7 s of emoji parsing each before it was refused as too long
    cpu_before = cpu_seconds(target.pid)
    async with target.attack(requests=4):
        answers = await asyncio.gather(
            *(timed(client, target, SEND, {"s": sid, "c": content}, viewer) for _ in range(4))
        )
    cpu = cpu_seconds(target.pid) - cpu_before
    for elapsed, result in answers:
        assert (result["__typename"], result["code"], result["field"]) == ("ValidationError", "VALIDATION", "content")
        assert elapsed < DEADLINE, f"refused after {elapsed:.2f} s"
    assert cpu < 1.0, f"the server spent {cpu:.2f} s of CPU on 4 messages"
    assert await ChatMessage.filter(stream_id=sid).count() == 0


async def test_a_thousand_creates_keep_twenty_streams(target: Target, client: httpx.AsyncClient) -> None:
    name, token = await attacker(target, "creator")
    answers: list[tuple[float, dict[str, Any]]] = []
    async with target.attack(requests=1000):
        for batch in range(250):  # a few at once: concurrent creates must not slip past the count either
            answers += await asyncio.gather(
                *(timed(client, target, CREATE, {"t": f"s{batch}-{n}"}, token) for n in range(4))
            )
    kinds = [result["__typename"] for _, result in answers]
    assert kinds.count("Stream") == OPEN_STREAMS, f"{kinds.count('Stream')} of 1000 created"
    assert {result.get("code") for _, result in answers if result["__typename"] != "Stream"} == {"VALIDATION"}
    slowest = max(elapsed for elapsed, _ in answers)
    assert slowest < DEADLINE, f"slowest answer {slowest:.2f} s"
    assert await Stream.filter(owner__name=name).count() == OPEN_STREAMS


async def test_create_and_cancel_in_a_loop_stops_at_the_rate(target: Target, client: httpx.AsyncClient) -> None:
    name, token = await attacker(target, "churner")
    refused: dict[str, Any] | None = None
    async with target.attack(requests=2 * (CREATES_PER_DAY + 10)):
        for n in range(CREATES_PER_DAY + 10):  # never more than one open stream: only the rate can stop it
            elapsed, made = await timed(client, target, CREATE, {"t": f"c{n}"}, token)
            assert elapsed < DEADLINE, f"answered after {elapsed:.2f} s"
            if made["__typename"] != "Stream":
                refused = made
                break
            assert (await timed(client, target, CANCEL, {"id": made["id"]}, token))[1]["__typename"] == "Stream"
    assert refused is not None, f"{CREATES_PER_DAY + 10} streams created and cancelled, none refused"
    assert (refused["__typename"], refused["code"]) == ("RateLimitedError", "RATE_LIMITED"), refused
    again = (await timed(client, target, CREATE_RETRY, {}, token))[1]
    assert again["code"] == "RATE_LIMITED" and 23 * 3600 < again["retryAfter"] <= 24 * 3600, again
    assert await Stream.filter(owner__name=name).count() == CREATES_PER_DAY


async def test_an_owner_flooding_their_own_chat_is_rate_limited(target: Target, client: httpx.AsyncClient) -> None:
    _, owner = await attacker(target, "flooder")
    sid = await new_stream(client, target, owner)
    sent = PRIVILEGED_CHAT + 50
    async with target.attack(requests=sent + PRIVILEGED_REACTIONS + 20):
        messages = []
        for batch in range(sent // 5):
            messages += await asyncio.gather(
                *(timed(client, target, SEND, {"s": sid, "c": f"m{batch}-{n}"}, owner) for n in range(5))
            )
        reactions = []
        for _ in range((PRIVILEGED_REACTIONS + 20) // 5):
            reactions += await asyncio.gather(*(timed(client, target, REACT, {"s": sid}, owner) for _ in range(5)))
    kinds = [result["__typename"] for _, result in messages]
    assert kinds.count("ChatMessage") == PRIVILEGED_CHAT, f"{kinds.count('ChatMessage')} of {sent} messages accepted"
    limited = [result for _, result in messages if result["__typename"] != "ChatMessage"]
    assert {(r["code"], 0 < r["retryAfter"] <= 30) for r in limited} == {("RATE_LIMITED", True)}
    assert await ChatMessage.filter(stream_id=sid).count() == PRIVILEGED_CHAT
    kinds = [result["__typename"] for _, result in reactions]
    assert kinds.count("Reaction") == PRIVILEGED_REACTIONS, f"{kinds.count('Reaction')} reactions accepted"
    assert {r.get("code") for _, r in reactions if r["__typename"] != "Reaction"} == {"RATE_LIMITED"}
    assert await Reaction.filter(stream_id=sid).count() == PRIVILEGED_REACTIONS
