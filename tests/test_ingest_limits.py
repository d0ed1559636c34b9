"""What one RTMP connection may make the ingest hold (issue #10, item 7): the chunk reader's limits before and
after a publish is authorised, the pending-connection caps, and the ingest switching from one to the other."""

from __future__ import annotations

import asyncio
import os
import tracemalloc

import pytest

from livecast.providers.local import rtmp
from livecast.providers.local.admission import PendingConnections, client_key
from livecast.providers.local.chunks import BEFORE_PUBLISH, PUBLISHING, ChunkReader
from tests.conftest import Server
from tests.helpers.client import create_stream
from tests.helpers.rtmp_client import RawRTMP, chunk_header, message, publish_commands, set_chunk_size

KIB, MIB = 1024, 1024 * 1024
VIDEO = rtmp.MSG_VIDEO


def reader_of(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=2**20)
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def refused(chunks: ChunkReader, match: str) -> None:
    """Reading is refused with ``RTMPProtocolError`` at once (not after waiting for bytes that are not sent)."""
    with pytest.raises(rtmp.RTMPProtocolError, match=match):
        async with asyncio.timeout(1):
            while True:
                await chunks.read_message()


async def test_a_large_message_is_refused_before_publish_as_soon_as_it_is_announced() -> None:
    announced = set_chunk_size(0xFFFFFF) + chunk_header(3, length=8 * MIB, type_id=VIDEO)
    await refused(ChunkReader(reader_of(announced, eof=False)), f"exceeds {BEFORE_PUBLISH.message_bytes}")
    command = chunk_header(3, length=BEFORE_PUBLISH.amf_bytes + 1, type_id=rtmp.MSG_COMMAND_AMF0)
    await refused(ChunkReader(reader_of(command, eof=False)), "exceeds")


async def test_messages_in_progress_are_bounded_together_before_publish() -> None:
    size = 7 * KIB  # each within the message limit; the third brings the total over 16 KiB
    partial = b"".join(chunk_header(csid, length=size, type_id=VIDEO) + bytes(128) for csid in (3, 4, 5))
    await refused(ChunkReader(reader_of(partial, eof=False)), f"exceed {BEFORE_PUBLISH.partial_bytes}")


async def test_abort_and_a_new_message_release_what_was_in_progress() -> None:
    size = 7 * KIB
    data = chunk_header(3, length=size, type_id=VIDEO) + bytes(128)
    data += chunk_header(2, length=4, type_id=rtmp.MSG_ABORT) + (3).to_bytes(4, "big")  # abort stream 3
    data += chunk_header(4, length=size, type_id=VIDEO) + bytes(128)
    data += chunk_header(4, length=size, type_id=VIDEO) + bytes(128)  # restarts stream 4: its first message is gone
    data += message(5, rtmp.Message(VIDEO, 0, 0, b"v" * size), 128)  # 2 x 7 KiB in progress at most
    chunks = ChunkReader(reader_of(set_chunk_size(128) + data + message(3, rtmp.Message(VIDEO, 0, 0, b"ok"), 128)))
    with pytest.raises(asyncio.IncompleteReadError):  # everything is read; nothing refused
        while True:
            await chunks.read_message()


async def test_chunk_streams_and_bytes_are_bounded_before_publish_only() -> None:
    many = b"".join(message(csid, rtmp.Message(VIDEO, 0, 0, b"x"), 128) for csid in range(3, 3 + 9))
    await refused(ChunkReader(reader_of(many)), f"more than {BEFORE_PUBLISH.chunk_streams} chunk streams")
    assert [m.payload for m in await read_all(ChunkReader(reader_of(many), PUBLISHING))] == [b"x"] * 9

    small = message(3, rtmp.Message(VIDEO, 0, 0, bytes(100)), 128) * 200  # 20 KiB of harmless little messages
    await refused(ChunkReader(reader_of(small)), f"more than {BEFORE_PUBLISH.read_bytes} bytes")
    assert len(await read_all(ChunkReader(reader_of(small), PUBLISHING))) == 200


async def test_a_publisher_gets_media_limits_bounded_in_total() -> None:
    keyframe = os.urandom(3 * MIB)
    chunks = ChunkReader(reader_of(set_chunk_size(60_000) + message(6, rtmp.Message(VIDEO, 1, 40, keyframe), 60_000)))
    chunks.limits = PUBLISHING
    (got,) = await read_all(chunks)
    assert (got.type_id, got.stream_id, got.timestamp, got.payload == keyframe) == (VIDEO, 1, 40, True)

    four = b"".join(chunk_header(csid, length=8 * MIB, type_id=VIDEO) + bytes(128) for csid in (4, 5, 6, 7))
    chunks = ChunkReader(reader_of(four + chunk_header(8, length=1, type_id=VIDEO), eof=False), PUBLISHING)
    await refused(chunks, f"exceed {PUBLISHING.partial_bytes}")  # 4 x 8 MiB fit; one byte more does not
    over = chunk_header(4, length=PUBLISHING.message_bytes + 1, type_id=VIDEO)
    await refused(ChunkReader(reader_of(over, eof=False), PUBLISHING), "exceeds")


async def test_a_declared_length_is_not_allocated_and_a_read_message_is_not_kept() -> None:
    data = set_chunk_size(4096) + b"".join(chunk_header(c, length=8 * MIB, type_id=VIDEO) + bytes(4096) for c in (4, 5))
    data += message(6, rtmp.Message(VIDEO, 0, 0, bytes(8 * MIB - 1)), 4096)
    chunks = ChunkReader(reader_of(data, eof=False), PUBLISHING)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        got = await asyncio.wait_for(chunks.read_message(), 5)
        assert len(got.payload) == 8 * MIB - 1
        del got
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1 * MIB, f"{held} bytes held for two announced 8 MiB messages with 4 KiB received each"


async def test_bad_amf_is_a_protocol_error_and_names_are_read_without_decoding() -> None:
    nested = b"\x02\x00\x07connect\x00" + bytes(8) + b"\x03\x00\x01a" * 2000
    for payload in (os.urandom(200), nested, b"\x02\x00\x07connect\x00" + bytes(8) + b"\x0c\xff\xff\xff\xff"):
        with pytest.raises(rtmp.RTMPProtocolError, match="undecodable"):
            rtmp.decode_amf(rtmp.Message(rtmp.MSG_COMMAND_AMF0, 0, 0, payload))
    assert rtmp.amf_name(rtmp.amf_command("FCUnpublish", 5, None, "key")) == "FCUnpublish"
    assert rtmp.amf_name(rtmp.Message(rtmp.MSG_COMMAND_AMF0, 0, 0, b"\x00" + bytes(8))) == ""


def test_pending_connections_are_capped_per_address_and_in_total() -> None:
    pending = PendingConnections(per_address=2, total=3)
    a1, a2 = pending.admit(("10.0.0.1", 1)), pending.admit(("::ffff:10.0.0.1", 2, 0, 0))
    assert a1 and a2 and pending.admit(("10.0.0.1", 3)) is None
    b1 = pending.admit(("2001:db8:1:2::1", 4, 0, 0))
    assert b1 and pending.admit(("10.0.0.2", 5)) is None  # 3 in total
    a1.release()
    a1.release()  # idempotent
    assert len(pending) == 2
    b2 = pending.admit(("2001:db8:1:2:ffff::9", 6, 0, 0))  # same /64 as b1
    assert b2 and pending.admit(("2001:db8:1:2::77", 7, 0, 0)) is None
    assert client_key(("2001:db8:1:2:3:4:5:6", 1, 0, 0)) == "2001:db8:1:2::/64"
    assert client_key(None) == "None"


async def read_all(chunks: ChunkReader) -> list[rtmp.Message]:
    messages = []
    try:
        while True:
            messages.append(await asyncio.wait_for(chunks.read_message(), 5))
    except asyncio.IncompleteReadError:
        return messages


async def test_the_ingest_gives_media_limits_only_to_an_authorised_publish(server: Server) -> None:
    """A raw client: 1 MiB messages are dropped before ``publish`` and accepted after it (the server reads 3 MiB
    and acknowledges them); a wrong key is refused and its connection closed."""
    token = await server.token("alice")
    key = (await create_stream(server.graphql_http, token))["ingest"]["streamKey"]
    port = server.settings.rtmp_port
    big = rtmp.Message(0x16, 1, 0, bytes(MIB))  # an aggregate message: read, then ignored by the ingest

    early, publisher, stranger = [await RawRTMP.connect(port) for _ in range(3)]
    try:
        await early.handshake()
        await early.send(set_chunk_size(65536) + message(6, big, 65536))
        assert await early.closed_by_server(1), "a 1 MiB message before publish is dropped at once"

        await publisher.handshake()
        await publisher.send(publish_commands(key))
        assert await publisher.read_until(b"NetStream.Publish.Start", 5), bytes(publisher.received)
        for _ in range(3):
            assert await publisher.send(set_chunk_size(65536) + message(6, big, 65536))
        assert await publisher.read_until(bytes([2]) + bytes(3) + (4).to_bytes(3, "big") + bytes([rtmp.MSG_ACK]), 5)

        await stranger.handshake()
        await stranger.send(publish_commands("not-a-key"))
        assert await stranger.read_until(b"NetStream.Publish.BadName", 5)
        assert await stranger.closed_by_server(1)
    finally:
        for client in (early, publisher, stranger):
            await client.close()
