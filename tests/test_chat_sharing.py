"""Chat fan-out shared per stream: one result and one JSON text per selection, sent in each subscriber's own
envelope; group commit of concurrent messages. Real websockets (raw frames) where the wire format matters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.extensions import ParserCache
from tortoise import connections
from websockets.asyncio.client import connect

from livecast.domain import chat_commit, chat_commit_sqlite, chat_fanout, streams
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.chat_models import ChatMessage, ChatRoom
from livecast.domain.deps import Deps
from livecast.domain.validation import StreamFields
from livecast.schema.chat import ChatEventBatch
from livecast.schema.execution import LivecastExecutor, SharedData, SharedResultWebSocket, share
from tests.conftest import Server
from tests.helpers.chat import send
from tests.helpers.client import create_stream
from tests.helpers.waiting import eventually

WIDE = """subscription($s: ID!) { chatMessages(streamId: $s) { events { __typename
  ... on ChatMessage { id sequence content createdAt deleted author { id name } } } } }"""
NARROW = """subscription($s: ID!) { chatMessages(streamId: $s) { events { ... on ChatMessage { sequence } } } }"""


class RawSubscriber:
    """One websocket, one subscription; keeps every frame's text as received."""

    def __init__(
        self, url: str, query: str, variables: dict[str, Any], op_id: str, protocol: str = "graphql-transport-ws"
    ) -> None:
        self.url, self.query, self.variables, self.op_id, self.protocol = url, query, variables, op_id, protocol
        self.frames: list[str] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with connect(self.url, subprotocols=[self.protocol]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            while json.loads(await ws.recv())["type"] != "connection_ack":
                pass
            start = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
            await ws.send(
                json.dumps(
                    {"id": self.op_id, "type": start, "payload": {"query": self.query, "variables": self.variables}}
                )
            )
            async for frame in ws:
                if json.loads(frame)["type"] in ("next", "data"):
                    self.frames.append(str(frame))

    def sequences(self) -> list[int]:
        found = []
        for frame in self.frames:
            for event in json.loads(frame)["payload"]["data"]["chatMessages"]["events"]:
                found.append(event["sequence"])
        return found

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_each_selection_gets_its_own_shape_and_equal_selections_the_same_text(server: Server) -> None:
    owner = await server.token("alice")
    sid = (await create_stream(server.graphql_http, owner))["id"]
    ws, v = server.graphql_ws, {"s": sid}
    wide = RawSubscriber(ws, WIDE, v, "w1")
    wide_legacy = RawSubscriber(ws, WIDE, v, "legacy-7", protocol="graphql-ws")
    narrow = RawSubscriber(ws, NARROW, v, "n1")
    subscribers = [wide, wide_legacy, narrow]
    try:
        await eventually(
            lambda: chat_fanout.follower_count(server.runtime.deps.bus, sid) == 3, what="three live subscribers"
        )
        sent = await asyncio.gather(*(send(server.graphql_http, owner, sid, f"hello {n}") for n in range(20)))
        await eventually(lambda: all(len(s.sequences()) == 20 for s in subscribers), what="all messages everywhere")
        for s in subscribers:
            assert s.sequences() == list(range(1, 21))
        by_seq = {m["sequence"]: m for m in sent}
        for frame in wide.frames:
            message = json.loads(frame)
            assert message["id"] == "w1" and message["type"] == "next"
            for event in message["payload"]["data"]["chatMessages"]["events"]:
                assert set(event) == {"__typename", "id", "sequence", "content", "createdAt", "deleted", "author"}
                assert event["content"] == by_seq[event["sequence"]]["content"] and event["author"]["name"] == "alice"
        for frame in narrow.frames:
            message = json.loads(frame)
            assert message["id"] == "n1"
            assert all(set(e) == {"sequence"} for e in message["payload"]["data"]["chatMessages"]["events"])
        for frame in wide_legacy.frames:
            assert json.loads(frame)["id"] == "legacy-7" and json.loads(frame)["type"] == "data"
        # Every member gets the same batches (one frame each), so the same selection means byte-identical
        # payloads (one JSON text), whatever the protocol.
        assert len(wide.frames) == len(wide_legacy.frames) == len(narrow.frames)
        for a, b in zip(wide.frames, wide_legacy.frames, strict=True):
            assert a[a.index('"payload":') :] == b[b.index('"payload":') :]
    finally:
        for s in subscribers:
            await s.stop()


# ---------------------------------------------------------------------------------------------------- executor


@strawberry.type
class Item:
    n: int
    label: str


PAYLOADS: list[Any] = []


@strawberry.type
class Query:
    ok: int = 1


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def items(self, scale: int = 1) -> AsyncGenerator[Item, None]:
        for payload in PAYLOADS:
            yield payload


def _schema() -> strawberry.Schema:
    # ParserCache as in livecast's schema: the same query text is the same document, hence shared results.
    return strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=LivecastExecutor,
        extensions=[lambda: ParserCache(maxsize=16)],
    )  # fmt: skip


async def _results(schema: strawberry.Schema, query: str, variables: dict[str, Any] | None = None) -> list[Any]:
    stream = await schema.subscribe(query, variable_values=variables)
    return [r async for r in stream]  # type: ignore[union-attr]


async def test_shared_payloads_are_executed_once_per_selection_with_the_same_result() -> None:
    schema = _schema()
    PAYLOADS[:] = [share(Item(n=n, label=f"item {n}")) for n in range(3)]
    first = await _results(schema, "subscription { items { n label } }")
    again = await _results(schema, "subscription { items { n label } }")
    other = await _results(schema, "subscription { items { label } }")
    with_vars = await _results(schema, "subscription($s: Int) { items(scale: $s) { n } }", {"s": 2})
    PAYLOADS[:] = [Item(n=n, label=f"item {n}") for n in range(3)]  # not shared: normal execution
    plain = await _results(schema, "subscription { items { n label } }")
    assert (
        [r.data for r in first]
        == [r.data for r in plain]
        == [{"items": {"n": n, "label": f"item {n}"}} for n in range(3)]
    )
    assert all(type(r.data) is SharedData for r in first) and not any(type(r.data) is SharedData for r in plain)
    assert all(a.data is b.data for a, b in zip(first, again, strict=True)), "the second subscriber reuses the result"
    assert [r.data for r in other] == [{"items": {"label": f"item {n}"}} for n in range(3)]
    assert [r.data for r in with_vars] == [{"items": {"n": n}} for n in range(3)]
    assert not any(a.data is b.data for a, b in zip(first, other, strict=True))


class _Capture:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)


async def test_the_shared_text_is_byte_for_byte_what_send_json_would_send() -> None:
    view = strawberry.asgi.GraphQL(_schema())
    capture = _Capture()
    adapter = SharedResultWebSocket(view, capture, capture)  # type: ignore[arg-type]
    data = SharedData(
        {"chatMessages": {"events": [{"sequence": 1, "content": 'é "quoted" </script>', "author": None}]}}
    )
    messages = [
        {"id": "op-1", "type": "next", "payload": {"data": data}},  # graphql-transport-ws
        {"type": "data", "id": "7", "payload": {"data": data}},  # graphql-ws
    ]
    for message in messages:
        await adapter.send_json(message)
    assert capture.sent == [view.encode_json({**m, "payload": {"data": dict(data)}}) for m in messages]
    assert data.json is not None, "encoded once, then reused"
    with_errors = {"id": "op-2", "type": "next", "payload": {"data": data, "errors": [{"message": "x"}]}}
    await adapter.send_json(with_errors)
    assert capture.sent[-1] == view.encode_json(with_errors), "anything but exactly {data} takes the normal path"


def test_no_field_under_a_chat_batch_depends_on_the_viewer() -> None:
    """A shared batch's result is computed for the first subscriber of a selection and sent to all: every
    field below ``ChatEventBatch`` must be a plain attribute (no resolver that could read ``info.context``)."""
    from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition
    from strawberry.types.union import StrawberryUnion

    seen: set[type] = set()
    pending: list[Any] = [ChatEventBatch]
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        definition = get_object_definition(cls, strict=True)
        for field in definition.fields:
            assert field.base_resolver is None, f"{definition.name}.{field.name} has a resolver"
            kind = field.type
            while isinstance(kind, StrawberryList | StrawberryOptional):
                kind = kind.of_type
            if isinstance(kind, StrawberryUnion):
                pending.extend(t for t in kind.types)  # type: ignore[misc]
            elif get_object_definition(kind) is not None:
                pending.append(kind)
    assert len(seen) >= 5  # the batch, the three event types, the author


# ------------------------------------------------------------------------------------------------ group commit


async def _stream(deps: Deps) -> tuple[Any, str]:
    user = await ensure_user(name="alice", roles=[])
    actor = Principal(user_id=str(user.id), name=user.name, roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="Busy"))
    await ChatRoom.get_or_create(stream_id=str(stream.id))
    return user, str(stream.id)


async def test_concurrent_messages_share_transactions_and_stay_gap_free(deps: Deps) -> None:
    user, sid = await _stream(deps)
    received: list[int] = []

    async def listen() -> None:
        async with chat_fanout.follow(deps.bus, sid) as member:
            member.live = True
            while len(received) < 30:
                received.extend(m.sequence for m in await member.next())

    listener = asyncio.create_task(listen())
    await eventually(lambda: chat_fanout.follower_count(deps.bus, sid) == 1, what="listener")
    stored = await asyncio.gather(*(
        chat_commit.store_and_publish(bus=deps.bus, stream_id=sid, author_id=str(user.id), author_name="alice", content=f"m{n}")
        for n in range(30)
    ))  # fmt: skip
    assert sorted(m.sequence for m in stored) == list(range(1, 31))
    assert [m.content for m in stored] == [f"m{n}" for n in range(30)], "in the order they were sent"
    await asyncio.wait_for(listener, 10)
    assert received == list(range(1, 31)), "published in sequence order"
    room = await ChatRoom.get(stream_id=sid)
    assert (room.last_sequence, room.message_count) == (30, 30)
    rows = await ChatMessage.filter(stream_id=sid).order_by("sequence")
    assert [(str(r.id), r.sequence, r.content, str(r.author_id), r.created_at) for r in rows] == sorted(
        ((str(m.id), m.sequence, m.content, str(m.author_id), m.created_at) for m in stored), key=lambda row: row[1]
    ), "read back through the ORM exactly as stored"
    sqlite = connections.get("default").capabilities.dialect == "sqlite"
    assert chat_commit_sqlite.available() is sqlite, "on SQLite, group commits take one trip to its thread"


async def test_a_message_that_cannot_be_stored_fails_alone(deps: Deps) -> None:
    user, sid = await _stream(deps)
    ghost = "00000000-0000-0000-0000-000000000000"  # no such user: the insert violates the foreign key

    def store(author_id: str, content: str) -> Any:
        return chat_commit.store_and_publish(
            bus=deps.bus, stream_id=sid, author_id=author_id, author_name="x", content=content
        )

    outcomes = await asyncio.gather(store(str(user.id), "a"), store(str(user.id), "b"), store(ghost, "c"), store(str(user.id), "d"),
                                    return_exceptions=True)  # fmt: skip
    assert isinstance(outcomes[2], Exception)
    good = [o for n, o in enumerate(outcomes) if n != 2]
    assert all(isinstance(o, ChatMessage) for o in good)
    assert sorted(o.sequence for o in good) == [1, 2, 3], "no gap where the failed message was"
    assert [m.content for m in await ChatMessage.filter(stream_id=sid).order_by("sequence")] == ["a", "b", "d"]
    assert (await ChatRoom.get(stream_id=sid)).last_sequence == 3


# ---------------------------------------------------------------------------------------------------- the feed


async def test_a_member_that_stops_reading_holds_the_others_once_then_is_ended(deps: Deps, monkeypatch: Any) -> None:
    monkeypatch.setattr(chat_fanout, "HOLD_MAX", 3.0)
    monkeypatch.setattr(chat_fanout, "MEMBER_MAX_ITEMS", 20)
    user, sid = await _stream(deps)
    got: list[int] = []
    stuck_error: list[BaseException] = []

    async def reader() -> None:
        async with chat_fanout.follow(deps.bus, sid) as member:
            member.live = True
            while len(got) < 30:
                got.extend(m.sequence for m in await member.next())

    async def stuck() -> None:
        async with chat_fanout.follow(deps.bus, sid) as member:
            member.live = True
            await member.next()  # takes one batch, never asks for another
            await asyncio.sleep(3600)

    async def stuck_then_reads() -> None:
        async with chat_fanout.follow(deps.bus, sid) as member:
            member.live = True
            await member.next()
            await asyncio.sleep(5)
            try:
                while True:
                    await member.next()
            except Exception as e:
                stuck_error.append(e)

    tasks = [asyncio.create_task(c()) for c in (reader, stuck, stuck_then_reads)]
    await eventually(lambda: chat_fanout.follower_count(deps.bus, sid) == 3, what="three members")
    for n in range(29):
        await chat_commit.store_and_publish(
            bus=deps.bus, stream_id=sid, author_id=str(user.id), author_name="a", content=f"m{n}"
        )
        await asyncio.sleep(0.02)
    await eventually(lambda: len(got) == 29, what="29 messages", interval=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await chat_commit.store_and_publish(
        bus=deps.bus, stream_id=sid, author_id=str(user.id), author_name="a", content="last"
    )
    await asyncio.wait_for(tasks[0], 10)
    assert loop.time() - started < 1.5, "members still busy with an earlier batch do not hold the next one (3 s)"
    assert got == list(range(1, 31))
    await asyncio.wait_for(tasks[2], 10)
    assert stuck_error and type(stuck_error[0]).__name__ == "SubscriberTooSlow", stuck_error
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)
