"""Attack 7: anonymous RTMP connections that hold the ingest's memory or CPU before any publish is authorised."""

from __future__ import annotations

import asyncio
import struct
import time

from livecast.providers.local import rtmp
from tests.abuse.conftest import DEADLINE, Target
from tests.helpers.client import create_stream
from tests.helpers.rtmp_client import RawRTMP, chunk_header, publish_commands, set_chunk_size
from tests.helpers.waiting import eventually

MIB = 1024 * 1024
PER_ADDRESS = 8
"""The default ``LIVECAST_INGEST_MAX_PENDING_PER_ADDRESS``: the attacks below stay within it."""


async def opened(target: Target, n: int) -> list[RawRTMP]:
    clients = [await RawRTMP.connect(target.rtmp_port) for _ in range(n)]
    await asyncio.gather(*(client.handshake() for client in clients))
    return clients


async def close_all(clients: list[RawRTMP]) -> None:
    await asyncio.gather(*(client.close() for client in clients))


async def test_large_messages_announced_before_publish_are_dropped(target: Target) -> None:
    """Each connection sets a 4 MiB chunk size, announces 8 MiB messages on four chunk streams and sends the first
    4 MiB of each, then waits: 16 MiB per connection that nothing has authorised."""
    clients = await opened(target, PER_ADDRESS)
    first_chunk = bytes(4 * MIB)
    attack = set_chunk_size(4 * MIB) + b"".join(
        chunk_header(csid, length=8 * MIB, type_id=rtmp.MSG_VIDEO) + first_chunk for csid in (3, 4, 5, 6)
    )
    try:
        async with target.attack(requests=PER_ADDRESS):
            await asyncio.gather(*(client.send(attack) for client in clients))
            sent = time.monotonic()
            closed = await asyncio.gather(*(client.closed_by_server(DEADLINE) for client in clients))
            waited = time.monotonic() - sent
        assert all(closed), f"{closed.count(False)} of {len(clients)} connections still open {waited:.1f} s later"
    finally:
        await close_all(clients)


async def test_a_trickled_message_announced_before_publish_is_dropped_at_once(target: Target) -> None:
    """Each connection sets the largest chunk size (16 MiB), announces an 8 MiB message, then trickles it."""
    clients = await opened(target, PER_ADDRESS)

    async def trickle(client: RawRTMP) -> float | None:
        """Seconds from the announcement to the server closing the connection (``None``: still open after 1 s)."""
        await client.send(set_chunk_size(0xFFFFFF) + chunk_header(3, length=8 * MIB, type_id=rtmp.MSG_VIDEO))
        announced = time.monotonic()
        while time.monotonic() - announced < DEADLINE:
            if not await client.send(bytes(1024)) or await client.closed_by_server(0.05):
                return time.monotonic() - announced
        return None

    try:
        async with target.attack(requests=PER_ADDRESS):
            dropped_after = await asyncio.gather(*(trickle(client) for client in clients))
        assert None not in dropped_after, f"still open after {DEADLINE} s: {dropped_after}"
    finally:
        await close_all(clients)


async def test_a_huge_connect_command_does_not_stall_the_server(target: Target) -> None:
    """One ``connect`` of 512 KiB of tiny AMF properties: decoding it would hold the event loop for seconds."""
    properties = b"".join(struct.pack(">H", 4) + f"p{i:03x}".encode() + b"\x00" + bytes(8) for i in range(4096))
    payload = b"\x02\x00\x07connect\x00" + struct.pack(">d", 1) + b"\x03" + properties * 12 + b"\x00\x00\x09"
    (client,) = await opened(target, 1)
    try:
        async with target.attack():
            await client.send(set_chunk_size(1 * MIB) + chunk_header(3, length=len(payload), type_id=0x14) + payload)
            closed = await client.closed_by_server(DEADLINE)
        assert closed, "the connection is still open"
    finally:
        await client.close()


async def test_pending_connections_per_address_are_capped(target: Target) -> None:
    """Eight connections that never publish fill the address's quota: a ninth is closed before its handshake;
    a connection that publishes leaves the quota, and one closed frees its place."""
    held = await opened(target, PER_ADDRESS - 1)
    try:
        async with target.attack(requests=PER_ADDRESS + 1):
            token = await target.token("rtmp-cap")
            key = (await create_stream(target.graphql_url, token))["ingest"]["streamKey"]
            (publisher,) = await opened(target, 1)  # the eighth
            held.append(publisher)
            extra = await RawRTMP.connect(target.rtmp_port)
            held.append(extra)
            started = time.monotonic()
            assert await extra.closed_by_server(DEADLINE), "a ninth pending connection is accepted"
            assert not extra.received, "the refused connection got a handshake answer"
            assert time.monotonic() - started < DEADLINE

            await publisher.send(publish_commands(key))
            assert await publisher.read_until(b"NetStream.Publish.Start", 5), bytes(publisher.received)
            (ninth,) = await opened(target, 1)  # the publisher no longer counts as pending
            held.append(ninth)

            await held[0].close()
            await eventually(lambda: admitted(target, held), what="a place freed by a closed connection")
    finally:
        await close_all(held)


async def admitted(target: Target, held: list[RawRTMP]) -> bool:
    client = await RawRTMP.connect(target.rtmp_port)
    held.append(client)
    try:
        await client.handshake()
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    return True
