"""Per-owner stream limits over real HTTP: open streams per owner (admins exempt), the creation rate (admins
included), and concurrent creates that cannot get past the open-stream limit (SQLite here; PostgreSQL with
``LIVECAST_TEST_DATABASE_URL``, where the API's connection pool runs them really at once)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from livecast.domain.models import Stream
from livecast.domain.stream_quota import OPEN
from livecast.settings import Settings
from tests.conftest import run_server
from tests.helpers.client import gql_http

CREATE = """mutation($input: CreateStreamInput!) { createStream(input: $input) { __typename
  ... on Stream { id status } ... on Error { code message } ... on ValidationError { field }
  ... on RateLimitedError { retryAfter } } }"""
CANCEL = "mutation($id: ID!) { cancelStream(id: $id) { __typename ... on Stream { status } ... on Error { code } } }"
DELETE = "mutation($id: ID!) { deleteStream(id: $id) { __typename ... on Error { code } } }"


async def create(url: str, token: str, title: str = "s") -> dict[str, Any]:
    return (await gql_http(url, CREATE, {"input": {"title": title}}, token))["createStream"]


async def stored(owner: str, *, open_only: bool = False) -> int:
    query = Stream.filter(owner__name=owner)
    return await (query.filter(status__in=list(OPEN)) if open_only else query).count()


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_open_streams_per_owner": 3, "stream_create_rate_limit": "6/minute"})


async def test_open_streams_per_owner_admins_exempt(limited: Settings) -> None:
    async with run_server(limited) as server:
        url = server.graphql_http
        alice, bob, admin = (
            await server.token("alice"),
            await server.token("bob"),
            await server.token("root", ["admin"]),
        )
        made = [await create(url, alice, f"a{n}") for n in range(3)]
        assert [m["__typename"] for m in made] == ["Stream"] * 3
        refused = await create(url, alice, "one too many")
        assert (refused["__typename"], refused["code"], refused["field"]) == ("ValidationError", "VALIDATION", None)
        assert "3 streams that are not over" in refused["message"]
        assert (await create(url, bob))["__typename"] == "Stream", "the limit is per owner"
        cancelled = (await gql_http(url, CANCEL, {"id": made[0]["id"]}, alice))["cancelStream"]
        assert cancelled == {"__typename": "Stream", "status": "CANCELLED"}
        assert (await create(url, alice, "a cancelled stream is over"))["__typename"] == "Stream"
        assert (await create(url, alice))["code"] == "VALIDATION"
        assert (await gql_http(url, DELETE, {"id": made[1]["id"]}, alice))["deleteStream"][
            "__typename"
        ] == "DeletedStream"
        assert (await create(url, alice, "a deleted stream is gone"))["__typename"] == "Stream"
        assert await stored("alice", open_only=True) == 3 and await stored("alice") == 4
        assert [(await create(url, admin, f"r{n}"))["__typename"] for n in range(5)] == ["Stream"] * 5, "admins exempt"


async def test_creation_rate_applies_to_everyone(limited: Settings) -> None:
    async with run_server(limited) as server:
        url = server.graphql_http
        alice, admin = await server.token("alice"), await server.token("root", ["admin"])
        for n in range(6):  # created and cancelled at once: never over the open-stream limit, still counted
            made = await create(url, alice, f"a{n}")
            assert made["__typename"] == "Stream", made
            assert (await gql_http(url, CANCEL, {"id": made["id"]}, alice))["cancelStream"]["status"] == "CANCELLED"
        refused = await create(url, alice, "too fast")
        assert (refused["__typename"], refused["code"]) == ("RateLimitedError", "RATE_LIMITED")
        assert 50 < refused["retryAfter"] <= 60 and "new streams" in refused["message"]
        assert await stored("alice") == 6, "nothing stored past the rate"
        assert [(await create(url, admin, f"r{n}"))["__typename"] for n in range(6)] == ["Stream"] * 6
        assert (await create(url, admin, "admins too"))["code"] == "RATE_LIMITED"
        invalid = (await gql_http(url, CREATE, {"input": {"title": " "}}, alice))["createStream"]
        assert invalid["code"] == "VALIDATION" and invalid["field"] == "title", "input is validated first"


async def test_concurrent_creates_cannot_pass_the_limit(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_open_streams_per_owner": 5, "stream_create_rate_limit": "1000/minute"})
    async with run_server(limited) as server:
        url = server.graphql_http
        alice, bob = await server.token("alice"), await server.token("bob")
        results = await asyncio.gather(*(create(url, alice if n % 3 else bob, f"c{n}") for n in range(60)))
        kinds = [(r["__typename"], r.get("code")) for r in results]
        assert set(kinds) == {("Stream", None), ("ValidationError", "VALIDATION")}, kinds
        assert kinds.count(("Stream", None)) == 10
        assert await stored("alice") == 5 and await stored("bob") == 5
