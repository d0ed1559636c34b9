"""Chat frames written straight to the websocket (``execution.DirectSender``); the verified-token cache is tested in
tests/test_auth.py."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from livecast.domain import chat_fanout
from livecast.schema.execution import DirectSender
from tests.conftest import Server
from tests.helpers.chat import send
from tests.helpers.client import create_stream
from tests.helpers.waiting import eventually
from tests.test_chat_sharing import NARROW, WIDE, RawSubscriber


def _count_direct(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent = [0]
    original = DirectSender.send

    async def counting(self: DirectSender, payload: object) -> bool:
        done = await original(self, payload)
        sent[0] += done
        return done

    monkeypatch.setattr(DirectSender, "send", counting)
    return sent


async def _burst(server: Server, token: str, sid: str, first: int, n: int) -> None:
    # sent in small concurrent groups: several batches, most of them of several messages
    for start in range(first, first + n, 5):
        await asyncio.gather(
            *(send(server.graphql_http, token, sid, f"m{k}") for k in range(start, min(start + 5, first + n)))
        )


async def test_direct_frames_keep_ids_order_and_bytes(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    direct = _count_direct(monkeypatch)
    owner = await server.token("alice")
    sid = (await create_stream(server.graphql_http, owner))["id"]
    ws, v = server.graphql_ws, {"s": sid}
    wides = [RawSubscriber(ws, WIDE, v, f"w{n}") for n in range(4)]
    legacy = [RawSubscriber(ws, WIDE, v, f"legacy-{n}", protocol="graphql-ws") for n in range(2)]
    narrow = [RawSubscriber(ws, NARROW, v, f"n{n}") for n in range(2)]
    everyone = wides + legacy + narrow
    try:
        await eventually(
            lambda: chat_fanout.follower_count(server.runtime.deps.bus, sid) == len(everyone), what="live subscribers"
        )
        await _burst(server, owner, sid, 0, 40)
        await eventually(lambda: all(len(s.sequences()) == 40 for s in everyone), what="all messages everywhere")
        for s in everyone:
            assert s.sequences() == list(range(1, 41))  # in order, no gap, no duplicate
            kind = "data" if s.protocol == "graphql-ws" else "next"
            for frame in s.frames:
                message = json.loads(frame)
                assert message["id"] == s.op_id and message["type"] == kind
        # Each batch is one frame per subscriber; the same selection gives the same payload bytes whichever
        # path (usual or direct) and protocol carried it.
        assert len({len(s.frames) for s in everyone}) == 1
        for s in wides[1:] + legacy:
            for a, b in zip(wides[0].frames, s.frames, strict=True):
                assert a[a.index('"payload":') :] == b[b.index('"payload":') :]
        for a, b in zip(narrow[0].frames, narrow[1].frames, strict=True):
            assert a[a.index('"payload":') :] == b[b.index('"payload":') :]
        # The envelope is the protocol's, with the subscriber's own id, whichever path sent the frame.
        for s in everyone:
            envelope = (
                f'{{"id":"{s.op_id}","type":"next",'
                if s.protocol != "graphql-ws"
                else f'{{"type":"data","id":"{s.op_id}",'
            )
            assert all(f.startswith(envelope + '"payload":{"data":{"chatMessages":') for f in s.frames), s.frames[0][
                :60
            ]
        # Per batch the first subscriber of each selection takes the usual path, the others may go direct.
        assert direct[0] > 0
    finally:
        for s in everyone:
            await s.stop()


async def _raw(url: str, protocol: str) -> Any:
    ws = await connect(url, subprotocols=[protocol])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    while json.loads(await ws.recv())["type"] != "connection_ack":
        pass
    return ws


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_unsubscribing_mid_stream_stops_direct_frames(
    server: Server, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    direct = _count_direct(monkeypatch)
    owner = await server.token("alice")
    sid = (await create_stream(server.graphql_http, owner))["id"]
    bus = server.runtime.deps.bus
    others = [RawSubscriber(server.graphql_ws, WIDE, {"s": sid}, f"o{n}") for n in range(2)]
    ws = await _raw(server.graphql_ws, protocol)
    start, stop = ("subscribe", "complete") if protocol == "graphql-transport-ws" else ("start", "stop")
    try:
        # Two operations on one socket: "a" stops mid-stream, "b" goes on.
        for op in ("a", "b"):
            await ws.send(json.dumps({"id": op, "type": start, "payload": {"query": WIDE, "variables": {"s": sid}}}))
        await eventually(lambda: chat_fanout.follower_count(bus, sid) == 4, what="four live subscribers")
        await _burst(server, owner, sid, 0, 10)
        await eventually(lambda: all(len(s.sequences()) == 10 for s in others), what="first burst")
        before = direct[0]
        await ws.send(json.dumps({"id": "a", "type": stop}))
        await eventually(lambda: chat_fanout.follower_count(bus, sid) == 3, what="'a' left the feed")
        await _burst(server, owner, sid, 10, 10)
        await eventually(lambda: all(len(s.sequences()) == 20 for s in others), what="second burst")
        seen: dict[str, list[int]] = {"a": [], "b": []}
        while len(seen["b"]) < 20:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] in ("next", "data"):
                seen[message["id"]] += [e["sequence"] for e in message["payload"]["data"]["chatMessages"]["events"]]
        assert seen["b"] == list(range(1, 21))
        assert seen["a"][:10] == list(range(1, 11)) and set(seen["a"]) <= set(range(1, 11))  # nothing after its stop
        assert direct[0] > before  # the second burst went direct for some subscriber
    finally:
        await ws.close()
        for s in others:
            await s.stop()


# ------------------------------------------------------------------------------------------ adaptive batching


async def test_a_slow_fan_out_gets_a_rest_so_batches_grow_instead_of_frames(
    deps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from livecast.domain import chat_commit
    from tests.test_chat_sharing import _stream

    monkeypatch.setattr(chat_fanout, "FANOUT_REST", 1.0)
    user, sid = await _stream(deps)
    batches: list[tuple[float, list[int]]] = []
    loop = asyncio.get_running_loop()

    async def slow_reader() -> None:  # every batch takes it 0.2 s (as a fan-out to many sockets would)
        async with chat_fanout.follow(deps.bus, sid) as member:
            member.live = True
            while sum(len(b) for _, b in batches) < 60:
                batch = await member.next()
                batches.append((loop.time(), [m.sequence for m in batch]))
                await asyncio.sleep(0.2)

    reader = asyncio.create_task(slow_reader())
    await eventually(lambda: chat_fanout.follower_count(deps.bus, sid) == 1, what="reader")
    for n in range(60):  # 100 messages/s for 0.6 s
        await chat_commit.store_and_publish(
            bus=deps.bus, stream_id=sid, author_id=str(user.id), author_name="a", content=f"m{n}"
        )
        await asyncio.sleep(0.01)
    await asyncio.wait_for(reader, 10)
    assert [s for _, b in batches for s in b] == list(range(1, 61))
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(batches)]
    # 0.2 s busy + 0.2 s rest between batches (not 0.2 s, nor the 0.1 s window)
    assert gaps and min(gaps) >= 0.38, gaps
    assert len(batches) <= 4, [len(b) for _, b in batches]
