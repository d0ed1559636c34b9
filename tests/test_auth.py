"""Authorization trusts the database, not the token's claims (#10 item 8): roles from the user's row, deleted users
and revoked tokens refused within ``LIVECAST_AUTH_CACHE_SECONDS`` (HTTP, new and open websockets), ``sub`` checked,
``User.roles`` private, the CLI's ``token create --ttl`` and ``token revoke``, and the two caches behind it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import websockets

from livecast.domain import auth, users
from livecast.domain.auth import Authenticator, ExpiringLRU, decode_token, ensure_user, issue_token, revoke_tokens
from livecast.domain.errors import Unauthenticated
from livecast.domain.models import User
from livecast.settings import Settings
from tests.conftest import TEST_SECRET, Server
from tests.helpers.client import create_stream, gql_http, gql_http_errors
from tests.helpers.waiting import eventually

CACHE = 0.5
"""``LIVECAST_AUTH_CACHE_SECONDS`` of the servers here."""
MARGIN = 1.0
"""Seconds allowed beyond the cache lifetime for a change to show (polling, scheduling)."""
INGEST = "query($id: ID!) { stream(id: $id) { ingest { streamKey } } }"
CREATE = 'mutation { createStream(input: {title: "t"}) { __typename ... on Error { code message } } }'


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_cache_seconds": CACHE})


def signed(claims: dict[str, Any]) -> str:
    """A token with these claims, genuinely signed (only the issuer could make it)."""
    now = datetime.now(UTC)
    return jwt.encode({"iat": now, "exp": now + timedelta(hours=1), **claims}, TEST_SECRET, algorithm="HS256")


async def within_cache(check: Any, what: str) -> float:
    """Seconds until ``check()`` holds; fails if that takes longer than the cache lifetime (+ margin)."""
    started = time.monotonic()
    await eventually(check, timeout=CACHE + MARGIN, interval=0.05, what=what)
    return time.monotonic() - started


async def cli(*args: str, settings: Settings) -> tuple[int, str, str]:
    """``python -m livecast.cli ARGS`` on the test database; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECAST_")} | {
        "LIVECAST_DATABASE_URL": settings.database_url,
        "LIVECAST_SECRET_KEY": TEST_SECRET,
        "LIVECAST_DATA_DIR": str(settings.data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "livecast.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode()


def codes(errors: list[dict[str, Any]]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in errors]


async def me_codes(url: str, token: str) -> list[str | None] | None:
    """``extensions.code`` of ``me``'s errors, or ``None`` when ``me`` answers."""
    try:
        await gql_http(url, "{ me { id } }", token=token)
    except Exception:
        return codes(await gql_http_errors(url, "{ me { id } }", token=token))
    return None


# ------------------------------------------------------------------------------------------------ over the API


async def test_roles_come_from_the_database_not_the_token(server: Server) -> None:
    stream = await create_stream(server.graphql_http, await server.token("alice"))
    admin = await server.token("bob", ["admin"])
    key = stream["ingest"]["streamKey"]

    async def ingest(token: str) -> Any:
        return (await gql_http(server.graphql_http, INGEST, {"id": stream["id"]}, token))["stream"]["ingest"]

    assert (await ingest(admin))["streamKey"] == key
    carol = await ensure_user(name="carol", roles=[])
    claimed = signed({"sub": str(carol.id), "name": "carol", "roles": ["admin"]})
    assert await ingest(claimed) is None, "a roles claim grants nothing"
    assert (await gql_http(server.graphql_http, "{ me { roles } }", token=claimed))["me"] == {"roles": []}

    await User.filter(name="bob").update(roles=[])
    await within_cache(lambda: _is_none(ingest(admin)), "admin powers gone")
    assert (await gql_http(server.graphql_http, "{ me { roles } }", token=admin))["me"] == {"roles": []}
    await User.filter(name="carol").update(roles=["admin"])
    await within_cache(lambda: _equals(ingest(claimed), {"streamKey": key}), "admin granted in the database")


async def _is_none(value: Any) -> bool:
    return await value is None


async def _equals(value: Any, expected: Any) -> bool:
    return await value == expected


async def test_a_deleted_users_token_is_refused(server: Server, api: str) -> None:
    token = await server.token("dave")
    assert (await gql_http(api, "{ me { name } }", token=token))["me"] == {"name": "dave"}
    await User.filter(name="dave").delete()
    await within_cache(lambda: _equals(me_codes(api, token), ["UNAUTHENTICATED"]), "the deleted user refused")
    result = (await gql_http(api, CREATE, token=token))["createStream"]
    assert result == {"__typename": "UnauthenticatedError", "code": "UNAUTHENTICATED", "message": result["message"]}
    assert "no longer exists" in result["message"]
    async with httpx.AsyncClient(base_url=server.http) as client:  # the plain HTTP routes ask the same authenticator
        csv = await client.get(
            f"/v1/streams/{uuid.uuid4()}/analytics.csv", headers={"Authorization": f"Bearer {token}"}
        )
    assert (csv.status_code, csv.json()["code"]) == (401, "UNAUTHENTICATED"), csv.text


@pytest.mark.parametrize(
    "sub", ["not-a-uuid", "", "1' OR '1'='1", str(uuid.uuid4())], ids=["text", "empty", "sql", "unknown"]
)
async def test_a_token_of_no_user_is_unauthenticated(server: Server, api: str, sub: str) -> None:
    token = signed({"sub": sub, "roles": ["admin"]})
    assert await me_codes(api, token) == ["UNAUTHENTICATED"]
    result = (await gql_http(api, CREATE, token=token))["createStream"]
    assert (result["__typename"], result["code"]) == ("UnauthenticatedError", "UNAUTHENTICATED")
    for protocol in ("graphql-transport-ws", "graphql-ws"):  # in connection_init
        async with websockets.connect(server.graphql_ws, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:  # graphql-ws says connection_error first
                    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_error"
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403, protocol


async def test_token_revoke_refuses_old_tokens_and_new_ones_work(server: Server) -> None:
    code, old, _ = await cli("token", "create", "--user", "erin", "--ttl", "90", settings=server.settings)
    assert code == 0
    claims = jwt.decode(old, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 90 and claims["ver"] == 0
    code, default, _ = await cli("token", "create", "--user", "erin", settings=server.settings)
    claims = jwt.decode(default, options={"verify_signature": False})
    assert code == 0 and claims["exp"] - claims["iat"] == 24 * 3600, "the default lifetime is a day"
    assert (await gql_http(server.graphql_http, "{ me { name } }", token=old))["me"] == {"name": "erin"}

    code, out, _ = await cli("token", "revoke", "--user", "erin", settings=server.settings)
    assert (code, out) == (0, "revoked all tokens of erin (token version is now 1)")
    for token in (old, default):
        await within_cache(lambda t=token: _equals(me_codes(server.graphql_http, t), ["UNAUTHENTICATED"]), "revoked")
    errors = await gql_http_errors(server.graphql_http, "{ me { id } }", token=old)
    assert "revoked" in errors[0]["message"]
    code, new, _ = await cli("token", "create", "--user", "erin", settings=server.settings)
    assert code == 0 and jwt.decode(new, options={"verify_signature": False})["ver"] == 1
    assert (await gql_http(server.graphql_http, "{ me { name } }", token=new))["me"] == {"name": "erin"}, (
        "a token issued after the revocation works at once, even where the old version is still cached"
    )
    code, _, err = await cli("token", "revoke", "--user", "nobody", settings=server.settings)
    assert code == 2 and "does not exist" in err


async def test_an_open_websocket_follows_roles_and_revocation(server: Server) -> None:
    stream = await create_stream(server.graphql_http, await server.token("alice"))
    admin = await server.token("bob", ["admin"])
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {admin}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        ids = iter(range(1000))

        async def run(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            op = str(next(ids))
            payload = {"query": query, "variables": variables or {}}
            await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame.get("id") == op and frame["type"] == "next":
                    return frame["payload"]

        async def ingest() -> Any:
            return (await run(INGEST, {"id": stream["id"]}))["data"]["stream"]["ingest"]

        assert (await ingest())["streamKey"] == stream["ingest"]["streamKey"]
        await User.filter(name="bob").update(roles=[])
        await within_cache(lambda: _is_none(ingest()), "admin powers gone on the open connection")
        await revoke_tokens(name="bob")

        async def refused() -> bool:
            return codes((await run("{ me { id } }")).get("errors") or []) == ["UNAUTHENTICATED"]

        await within_cache(refused, "the revoked token refused on the open connection")


async def test_user_roles_are_not_public(server: Server) -> None:
    token = await server.token("bob", ["admin"])
    stream = await create_stream(server.graphql_http, token)
    query = "query($id: ID!) { stream(id: $id) { owner { name roles } } }"
    errors = await gql_http_errors(server.graphql_http, query, {"id": stream["id"]}, token)
    assert "Cannot query field 'roles' on type 'User'" in errors[0]["message"]
    me = (await gql_http(server.graphql_http, "{ me { id name roles } }", token=token))["me"]
    assert me == {"id": stream["owner"]["id"], "name": "bob", "roles": ["admin"]}


# ------------------------------------------------------------------------------------------------ the caches


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _authenticator(clock: Clock, cache_seconds: float = 5.0) -> Authenticator:
    return Authenticator(key=lambda: TEST_SECRET, cache_seconds=cache_seconds, clock=clock)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """User ids the authenticator read from the database, in order."""
    seen: list[str] = []
    original = users.get_user

    async def counting(user_id: str) -> User | None:
        seen.append(user_id)
        return await original(user_id)

    monkeypatch.setattr(users, "get_user", counting)
    return seen


async def test_a_cache_hit_reads_nothing_and_a_cold_cache_reads_once(deps: Any, reads: list[str]) -> None:
    clock = Clock()
    authenticator = _authenticator(clock)
    user = await ensure_user(name="ann", roles=["admin"])
    token = issue_token(user=user, key=TEST_SECRET, ttl_seconds=600)
    principals = await asyncio.gather(*(authenticator.authenticate(token) for _ in range(50)))
    assert reads == [str(user.id)], "concurrent requests of one user share one read"
    assert {(p.user_id, p.name, p.is_admin) for p in principals} == {(str(user.id), "ann", True)}
    for _ in range(100):
        await authenticator.authenticate(token)
    assert len(reads) == 1, "cache hits read nothing"
    await User.filter(id=user.id).delete()
    clock.now += 4.9
    assert (await authenticator.authenticate(token)).name == "ann", "still cached"
    clock.now += 0.1
    with pytest.raises(Unauthenticated, match="no longer exists"):
        await authenticator.authenticate(token)
    with pytest.raises(Unauthenticated, match="no longer exists"):
        await authenticator.authenticate(token)
    assert len(reads) == 2, "an unknown user is remembered too"


async def test_revocation_in_one_process(deps: Any, reads: list[str]) -> None:
    clock = Clock()
    authenticator = _authenticator(clock)
    user = await ensure_user(name="ann", roles=[])
    old = issue_token(user=user, key=TEST_SECRET, ttl_seconds=600)
    await authenticator.authenticate(old)
    assert await revoke_tokens(name=" ann ") == 1
    new = issue_token(user=await User.get(id=user.id), key=TEST_SECRET, ttl_seconds=600)
    assert (await authenticator.authenticate(new)).name == "ann", "newer than the cached version: read again"
    with pytest.raises(Unauthenticated, match="revoked"):
        await authenticator.authenticate(old)
    assert len(reads) == 2
    forged = signed({"sub": str(user.id), "ver": 7})
    with pytest.raises(Unauthenticated, match="unknown token version"):
        await authenticator.authenticate(forged)


async def test_cache_lifetime_zero_reads_every_time(deps: Any, reads: list[str]) -> None:
    authenticator = _authenticator(Clock(), cache_seconds=0)
    user = await ensure_user(name="ann", roles=[])
    token = issue_token(user=user, key=TEST_SECRET, ttl_seconds=600)
    for _ in range(3):
        await authenticator.authenticate(token)
    assert len(reads) == 3


def test_claims_are_checked() -> None:
    sub = "6F1C1F5E-6A1B-4BD0-9C55-7D0FD5A3B0A1"
    assert decode_token(signed({"sub": sub}), key=TEST_SECRET).user_id == sub.lower(), "one cache key per user"
    assert decode_token(signed({"sub": sub}), key=TEST_SECRET).version == 0, "tokens from before versions: 0"
    for claims, reason in [
        ({"sub": "nope"}, "sub is not a user id"),
        ({"sub": sub, "ver": -1}, "ver must be"),
        ({"sub": sub, "ver": "1"}, "ver must be"),
        ({"sub": sub, "ver": True}, "ver must be"),
        ({"sub": sub, "iat": None}, "invalid access token"),
    ]:
        with pytest.raises(Unauthenticated, match=reason):
            decode_token(signed(claims), key=TEST_SECRET)
    with pytest.raises(Unauthenticated, match="longer than"):
        decode_token("a" * (auth.MAX_TOKEN_CHARS + 1), key=TEST_SECRET)
    huge = signed({"sub": sub, "exp": 10**30})
    assert decode_token(huge, key=TEST_SECRET).expires_at == auth.MAX_EXP


def test_cached_token_is_refused_once_expired() -> None:
    authenticator = _authenticator(Clock())
    issued = datetime.now(UTC).replace(microsecond=0)
    user = User(id="6f1c2a70-0000-4000-8000-000000000001", name="ann", roles=[])
    token = issue_token(user=user, key=TEST_SECRET, ttl_seconds=2, now=issued)
    assert authenticator.claims(token) is authenticator.claims(token), "the second from the cache"
    time.sleep(max((issued + timedelta(seconds=2)).timestamp() - time.time(), 0) + 0.05)
    with pytest.raises(Unauthenticated, match="expired"):
        authenticator.claims(token)


def test_cache_never_accepts_a_tampered_token() -> None:
    authenticator = _authenticator(Clock())
    token = signed({"sub": "6f1c2a70-0000-4000-8000-000000000001"})
    assert authenticator.claims(token).version == 0
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "ver": 5}, "x" * 40, algorithm="HS256")
    spliced = forged.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]  # new claims, the genuine signature
    for bad in (forged, spliced, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")):
        with pytest.raises(Unauthenticated, match="invalid"):
            authenticator.claims(bad)
    other = Authenticator(key=lambda: "other-key" * 5, cache_seconds=5)
    with pytest.raises(Unauthenticated, match="invalid"):
        other.claims(token)  # each authenticator caches under its own key only


def test_expiring_lru_is_bounded_least_recently_used_first() -> None:
    cache: ExpiringLRU[str, int | None] = ExpiringLRU(2)
    cache.put("t1", 1, 600)
    cache.put("t2", 2, 600)
    assert cache.get("t1", 0) == (1,)  # t1 used last: t2 goes first
    cache.put("t3", None, 600)
    assert cache.get("t2", 0) is None and cache.get("t1", 0) == (1,)
    assert cache.get("t3", 0) == (None,), "a remembered None is a hit"
    cache.put("old", 4, 10)  # t1 goes
    assert cache.get("old", 9) == (4,) and cache.get("old", 10) is None, "usable until its deadline"
    assert len(cache) == 1 and cache.get("t3", 0) == (None,)
