"""Attack 5: websocket clients that never initialise, send bad tokens, malformed or oversized messages, on both
protocols (``graphql-transport-ws`` and the legacy ``graphql-ws``), against a real ``livecast serve``."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.abuse.conftest import DEADLINE, Target, start_target

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]


async def closed_with(ws: ClientConnection, timeout: float = DEADLINE) -> int | None:
    """The close code the server sends within ``timeout`` seconds (messages before it are skipped)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed:
        return ws.close_code
    except TimeoutError:
        return None


async def test_connections_that_never_initialise_are_closed(abuse_db: str, tmp_path: Path) -> None:
    """200 sockets of each protocol that never send ``connection_init``: all closed with 4408 at the deadline."""
    async with start_target(abuse_db, tmp_path, ws_init_timeout_seconds="1") as target:
        async with target.attack(requests=400):
            sockets = [await connect(target.ws_url, subprotocols=[p]) for p in PROTOCOLS for _ in range(200)]
            started = time.monotonic()
            codes = await asyncio.gather(*(closed_with(ws, 1 + DEADLINE) for ws in sockets))
            assert time.monotonic() - started < 1 + DEADLINE
            assert set(codes) == {4408}, {code: codes.count(code) for code in set(codes)}


async def test_a_bad_token_is_refused_with_4403_and_not_logged_as_an_error(target: Target) -> None:
    async with target.attack(requests=50):
        for protocol in PROTOCOLS * 25:
            async with connect(target.ws_url, subprotocols=[protocol]) as ws:
                started = time.monotonic()
                await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer forged"}}))
                assert await closed_with(ws) == 4403
                assert time.monotonic() - started < DEADLINE
    assert " ERROR " not in target.output()[-20_000:]


MALFORMED = [
    [{"type": "connection_init"}],  # a JSON array
    "just a string",
    {"type": 7},
    {"no": "type"},
    {"type": "subscribe", "id": "1", "payload": ["not", "an", "object"]},
    {"type": "start", "id": "1", "payload": "x"},
    {"type": "subscribe", "id": "x" * 10_000, "payload": {"query": "{ me { id } }"}},
    {"type": "subscribe", "id": "1", "payload": {"query": "{ me { id } }", "variables": [1]}},
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_malformed_messages_close_with_4400(target: Target, protocol: str) -> None:
    async with target.attack(requests=len(MALFORMED)):
        for message in MALFORMED:
            async with connect(target.ws_url, subprotocols=[protocol]) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps(message))
                code = await closed_with(ws)
                if protocol == "graphql-ws" and isinstance(message, dict) and message.get("type") == "subscribe":
                    assert code is None, message  # not a legacy message type: ignored, as the protocol says
                else:
                    assert code == 4400, (message, code)
    assert "Traceback" not in target.output()[-50_000:]


async def test_an_oversized_message_closes_the_connection(target: Target) -> None:
    async with target.attack(requests=1):
        async with connect(target.ws_url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await ws.recv()
            started = time.monotonic()
            try:
                await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": "#" + "x" * 4_000_000}}))
                code = await closed_with(ws)
            except ConnectionClosed:  # closed while the frame was still going out
                code = ws.close_code
            assert code == 1009
            assert time.monotonic() - started < DEADLINE
