"""The sender state read before each chat message: concurrent senders of a stream share one query, and each
gets exactly what reading alone would have given (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from livecast.domain import chat_sender, moderation, streams
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.domain.validation import StreamFields


async def _principal(name: str) -> Principal:
    user = await ensure_user(name=name, roles=[])
    return Principal(user_id=str(user.id), name=user.name, roles=frozenset())


async def test_concurrent_senders_share_one_query_and_each_gets_its_own_state(
    deps: Deps, caplog: pytest.LogCaptureFixture
) -> None:
    owner, mod, banned, *viewers = [await _principal(n) for n in ("owner", "mod", "banned", "v1", "v2", "v3")]
    stream = await streams.create_stream(deps=deps, actor=owner, fields=StreamFields(title="batch"))
    sid = str(stream.id)
    await moderation.add_moderator(deps=deps, actor=owner, stream_id=sid, user_id=mod.user_id)
    await moderation.ban_user(deps=deps, actor=owner, stream_id=sid, user_id=banned.user_id, duration_seconds=600)
    await moderation.chat_room(sid)
    gone = str(uuid.uuid4())  # a user that does not exist
    users = [owner.user_id, mod.user_id, banned.user_id, *(v.user_id for v in viewers), gone, viewers[0].user_id]
    alone = [await chat_sender._read_one(sid, u) for u in users]

    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    together = await asyncio.gather(*(chat_sender.read(sid, u) for u in users))
    queries = [
        r.getMessage() for r in caplog.records if r.name == "tortoise.db_client" and "FROM streams s" in r.getMessage()
    ]
    assert together == alone, "the same state as reading alone"
    assert len(queries) == 2, queries  # the 7 existing users (one of them twice) together, then the missing one alone
    by_user = dict(zip(users, together, strict=True))
    assert by_user[mod.user_id].moderates and not by_user[viewers[0].user_id].moderates
    assert by_user[banned.user_id].ban_active() and not by_user[viewers[1].user_id].banned
    assert by_user[gone] is not None and by_user[gone].author_name is None, "the stream exists, the user does not"
    assert by_user[owner.user_id].room is not None and by_user[owner.user_id].owner_id == owner.user_id

    missing = str(uuid.uuid4())
    assert await asyncio.gather(*(chat_sender.read(missing, u) for u in users[:3])) == [None, None, None], (
        "no such stream"
    )
