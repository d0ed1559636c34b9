"""Moderation over real HTTP: roles, bans and timeouts, chat settings and modes, refusal codes, the log."""

from __future__ import annotations

import asyncio

from livecast.domain.auth import ensure_user
from tests.conftest import Server
from tests.helpers.chat import mutate, send
from tests.helpers.client import create_stream, gql_http, gql_http_errors

SETTINGS = "$s: ID!, $i: ChatSettingsInput!"
USER_ARGS = "$s: ID!, $u: ID!"


async def user_id(name: str) -> str:
    return str((await ensure_user(name=name, roles=[])).id)


async def test_moderators_bans_and_timeouts(server: Server, api: str) -> None:
    url = api
    owner, mod, viewer, _other = [await server.token(n) for n in ("alice", "carol", "bob", "dave")]
    sid = (await create_stream(url, owner))["id"]
    carol, bob, dave, alice = [await user_id(n) for n in ("carol", "bob", "dave", "alice")]

    async def role(token: str, field: str, target: str) -> dict:
        return await mutate(
            url, token, field, USER_ARGS, "streamId: $s, userId: $u", {"s": sid, "u": target}, "... on User { name }"
        )

    async def ban(token: str, target: str, duration: int | None = None) -> dict:
        return await mutate(
            url, token, "banUser", "$s: ID!, $u: ID!, $d: Int", "streamId: $s, userId: $u, duration: $d, reason: \"spam\"",
            {"s": sid, "u": target, "d": duration}, "... on ChatBan { until reason } ... on ValidationError { field }",
        )  # fmt: skip

    assert (await role(viewer, "addModerator", carol))["code"] == "FORBIDDEN", "only the owner grants the role"
    assert (await role(owner, "addModerator", carol)) == {"__typename": "User", "name": "carol"}
    assert (await role(owner, "addModerator", "00000000-0000-0000-0000-000000000000"))["code"] == "NOT_FOUND"
    assert (await ban(viewer, dave))["code"] == "FORBIDDEN", "viewers cannot ban"
    assert (await ban(mod, alice))["code"] == "FORBIDDEN", "nobody bans the owner"
    await role(owner, "addModerator", dave)
    assert (await ban(mod, dave))["code"] == "FORBIDDEN", "a moderator cannot ban another moderator"
    await role(owner, "removeModerator", dave)

    banned = await ban(mod, bob)
    assert banned == {"__typename": "ChatBan", "until": None, "reason": "spam"}
    refused = await send(url, viewer, sid, "let me talk")
    assert (refused["__typename"], refused["code"], refused["until"]) == ("BannedError", "BANNED", None)
    reaction = await mutate(
        url, viewer, "sendReaction", "$s: ID!", 'streamId: $s, emoji: "🔥", positionX: 1, positionY: 2', {"s": sid}
    )
    assert reaction["code"] == "BANNED", "a ban covers reactions too"
    assert (await role(mod, "unbanUser", bob))["__typename"] == "User"
    assert (await send(url, viewer, sid, "thanks"))["__typename"] == "ChatMessage"

    timeout = await ban(mod, bob, duration=1)
    assert timeout["until"] is not None
    refused = await send(url, viewer, sid, "again")
    assert refused["code"] == "BANNED" and refused["until"] == timeout["until"]
    await asyncio.sleep(1.2)
    assert (await send(url, viewer, sid, "the timeout is over"))["__typename"] == "ChatMessage"
    assert (await ban(mod, bob, duration=0))["field"] == "duration"

    log = await gql_http(url, "query($s: ID!) { moderationLog(streamId: $s) { action targetUserId } }", {"s": sid}, mod)
    actions = [entry["action"] for entry in log["moderationLog"]][::-1]
    assert actions == ["ADD_MODERATOR", "ADD_MODERATOR", "REMOVE_MODERATOR", "BAN", "UNBAN", "TIMEOUT"]
    errors = await gql_http_errors(url, "query($s: ID!) { moderationLog(streamId: $s) { action } }", {"s": sid}, viewer)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_chat_settings_modes_and_refusals(server: Server, api: str) -> None:
    url = api
    owner, viewer = await server.token("alice"), await server.token("bob")
    sid = (await create_stream(url, owner))["id"]
    alice = await user_id("alice")

    async def settings(token: str, **values: object) -> dict:
        return await mutate(url, token, "setChatSettings", SETTINGS, "streamId: $s, input: $i", {"s": sid, "i": values},
                            "... on ChatSettings { slowModeSeconds mode emoteOnly blockedWords chatEnabled reactionsEnabled }"
                            " ... on ValidationError { field }")  # fmt: skip

    assert (await settings(viewer, slowModeSeconds=5))["code"] == "FORBIDDEN"
    assert (await settings(owner, slowModeSeconds=4000))["field"] == "slowModeSeconds"

    await settings(owner, slowModeSeconds=30)
    assert (await send(url, viewer, sid, "one"))["__typename"] == "ChatMessage"
    slow = await send(url, viewer, sid, "two")
    assert slow["code"] == "SLOW_MODE" and 25 < slow["retryAfter"] <= 30
    assert (await send(url, owner, sid, "the owner is exempt"))["__typename"] == "ChatMessage"
    await settings(owner, slowModeSeconds=0)

    await settings(owner, mode="FOLLOWERS")
    assert (await send(url, viewer, sid, "hi"))["code"] == "FORBIDDEN"
    assert (await mutate(url, viewer, "followUser", "$u: ID!", "userId: $u", {"u": alice}))["__typename"] == "User"
    assert (await send(url, viewer, sid, "now I follow"))["__typename"] == "ChatMessage"

    await settings(owner, mode="SUBSCRIBERS")
    assert (await send(url, viewer, sid, "hi"))["code"] == "FORBIDDEN"
    bob = await user_id("bob")
    assert (await mutate(url, viewer, "addMember", "$u: ID!", "userId: $u", {"u": bob}))["__typename"] == "User", (
        "own channel"
    )
    assert (await send(url, viewer, sid, "still not alice's member"))["code"] == "FORBIDDEN"
    assert (await mutate(url, owner, "addMember", "$u: ID!", "userId: $u", {"u": bob}))["__typename"] == "User"
    assert (await send(url, viewer, sid, "member now"))["__typename"] == "ChatMessage"
    await settings(owner, mode="OPEN")

    await settings(owner, emoteOnly=True)
    assert (await send(url, viewer, sid, "words"))["field"] == "content"
    assert (await send(url, viewer, sid, "🔥 👍🏽"))["__typename"] == "ChatMessage"
    shown = await settings(owner, emoteOnly=False, blockedWords=["Spoiler", " "])
    assert shown["blockedWords"] == ["Spoiler"]
    assert (await send(url, viewer, sid, "big SPOILER ahead"))["field"] == "content"
    assert (await send(url, viewer, sid, "spoilers are words too"))["__typename"] == "ChatMessage", "whole words only"
    public = await gql_http(
        url, "query($s: ID!) { stream(id: $s) { chatSettings { blockedWords } } }", {"s": sid}, viewer
    )
    assert public["stream"]["chatSettings"]["blockedWords"] is None, "only moderators see the list"

    await settings(owner, chatEnabled=False, reactionsEnabled=False)
    assert (await send(url, viewer, sid, "hello?"))["code"] == "FORBIDDEN"
    reaction = await mutate(
        url, viewer, "sendReaction", "$s: ID!", 'streamId: $s, emoji: "🔥", positionX: 1, positionY: 2', {"s": sid}
    )
    assert reaction["code"] == "FORBIDDEN"


async def test_chat_closes_when_the_stream_is_over(server: Server, api: str) -> None:
    url = api
    owner = await server.token("alice")
    sid = (await create_stream(url, owner))["id"]
    await gql_http(url, "mutation($id: ID!) { cancelStream(id: $id) { __typename } }", {"id": sid}, owner)
    refused = await send(url, owner, sid, "anyone?")
    assert refused["code"] == "INVALID_STATE"


async def test_settings_lists_and_reasons_are_bounded(server: Server, api: str) -> None:
    url = api
    owner, viewer = await server.token("alice"), await server.token("bob")
    sid = (await create_stream(url, owner))["id"]
    bob = await user_id("bob")

    async def words(value: list[str]) -> dict:
        variables = {"s": sid, "i": {"blockedWords": value}}
        selection = "... on ChatSettings { blockedWords } ... on ValidationError { field }"
        return await mutate(url, owner, "setChatSettings", SETTINGS, "streamId: $s, input: $i", variables, selection)

    assert len((await words([f"word{n}" for n in range(500)]))["blockedWords"]) == 500
    for bad in ([f"w{n}" for n in range(501)], ["x" * 101], [f"{n:02d}" + "x" * 98 for n in range(51)]):
        assert (await words(bad))["field"] == "blockedWords"
    assert len((await words([f"word{n}" for n in range(500)]))["blockedWords"]) == 500, "a refused list changes nothing"
    assert (await send(url, viewer, sid, "say word499 again"))["field"] == "content"

    async def ban(reason: str) -> dict:
        args = "$s: ID!, $u: ID!, $r: String!", "streamId: $s, userId: $u, reason: $r"
        selection = "... on ChatBan { reason } ... on ValidationError { field }"
        return await mutate(url, owner, "banUser", *args, {"s": sid, "u": bob, "r": reason}, selection)

    assert (await ban("r" * 501))["field"] == "reason", "not cut silently"
    assert (await ban("r" * 500))["reason"] == "r" * 500
