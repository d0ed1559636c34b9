"""RTMP wire protocol for the ingest: handshake, chunk stream reassembly, and the few replies a publisher needs.

Command and data payloads (AMF0) are decoded by ``pyrtmp``; the chunk layer is implemented here because it is
the hot path (every media byte passes through it) and pyrtmp's reader mishandles a type-3 chunk that starts a
new message (it does not add the timestamp delta, which ffmpeg relies on for audio). Reference: Adobe RTMP
specification 1.0, sections 5.2 (handshake), 5.3 (chunking) and 5.4 (protocol control messages).
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from dataclasses import dataclass, field

from bitstring import BitStream

logging.getLogger("pyrtmp").setLevel(logging.ERROR)
from pyrtmp.amf.serializers import AMF0Serializer  # noqa: E402  (after quieting pyrtmp's DEBUG loggers)
from pyrtmp.messages import Chunk  # noqa: E402
from pyrtmp.messages.factory import MessageFactory  # noqa: E402

for _name in list(logging.root.manager.loggerDict):
    if _name.startswith("pyrtmp"):
        logging.getLogger(_name).setLevel(logging.ERROR)

HANDSHAKE_SIZE = 1536
RTMP_VERSION = 3
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""A single RTMP message larger than this (8 MiB) is a protocol error (a 4K keyframe is ~1-2 MiB)."""
MAX_CHUNK_STREAMS = 64
SERVER_CHUNK_SIZE = 4096

MSG_SET_CHUNK_SIZE = 1
MSG_ABORT = 2
MSG_ACK = 3
MSG_USER_CONTROL = 4
MSG_WINDOW_ACK_SIZE = 5
MSG_SET_PEER_BANDWIDTH = 6
MSG_AUDIO = 8
MSG_VIDEO = 9
MSG_DATA_AMF0 = 0x12
MSG_COMMAND_AMF0 = 0x14


class RTMPProtocolError(Exception):
    """The peer sent bytes that are not valid RTMP; the connection is dropped."""


@dataclass
class Message:
    """One reassembled RTMP message. ``timestamp`` is in milliseconds (absolute, 32-bit wrap)."""

    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


@dataclass
class _ChunkStream:
    timestamp: int = 0
    delta: int = 0
    length: int = 0
    type_id: int = 0
    stream_id: int = 0
    extended: bool = False
    remaining: int = 0
    buffer: bytearray = field(default_factory=bytearray)


async def server_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Simple (non-digest) handshake: C0+C1 → S0+S1+S2 → C2. Raises ``RTMPProtocolError`` on a bad version."""
    c0c1 = await reader.readexactly(1 + HANDSHAKE_SIZE)
    if c0c1[0] != RTMP_VERSION:
        raise RTMPProtocolError(f"unsupported RTMP version byte {c0c1[0]}")
    s1 = bytes(8) + os.urandom(HANDSHAKE_SIZE - 8)
    s2 = c0c1[1:5] + bytes(4) + c0c1[9:]
    writer.write(bytes([RTMP_VERSION]) + s1 + s2)
    await writer.drain()
    await reader.readexactly(HANDSHAKE_SIZE)


class ChunkReader:
    """Reassembles RTMP messages from chunks; handles Set Chunk Size and Abort itself."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.chunk_size = 128
        self.bytes_read = 0
        self._streams: dict[int, _ChunkStream] = {}

    async def _read(self, n: int) -> bytes:
        data = await self._reader.readexactly(n)
        self.bytes_read += n
        return data

    async def read_message(self) -> Message:
        while True:
            message = await self._read_chunk()
            if message is None:
                continue
            if message.type_id == MSG_SET_CHUNK_SIZE:
                size = struct.unpack(">I", message.payload[:4])[0] & 0x7FFFFFFF
                if not 1 <= size <= 0xFFFFFF:
                    raise RTMPProtocolError(f"invalid chunk size {size}")
                self.chunk_size = size
                continue
            if message.type_id == MSG_ABORT:
                csid = struct.unpack(">I", message.payload[:4])[0]
                if csid in self._streams:
                    self._streams[csid].remaining = 0
                continue
            return message

    async def _read_chunk(self) -> Message | None:
        first = (await self._read(1))[0]
        fmt, csid = first >> 6, first & 0x3F
        if csid == 0:
            csid = 64 + (await self._read(1))[0]
        elif csid == 1:
            b = await self._read(2)
            csid = 64 + b[0] + b[1] * 256
        state = self._streams.get(csid)
        if state is None:
            if fmt != 0:
                raise RTMPProtocolError(f"chunk stream {csid} starts with a type {fmt} chunk")
            if len(self._streams) >= MAX_CHUNK_STREAMS:
                raise RTMPProtocolError("too many chunk streams")
            state = self._streams[csid] = _ChunkStream()
        starts_message = state.remaining == 0
        if fmt == 0:
            ts, length, type_id = _u24(await self._read(3)), 0, 0
            header = await self._read(8)
            length, type_id = _u24(header[:3]), header[3]
            state.stream_id = struct.unpack("<I", header[4:8])[0]
            state.extended = ts == 0xFFFFFF
            if state.extended:
                ts = struct.unpack(">I", await self._read(4))[0]
            state.timestamp, state.delta, state.length, state.type_id = ts, ts, length, type_id
            starts_message = True
        elif fmt in (1, 2):
            delta = _u24(await self._read(3))
            if fmt == 1:
                header = await self._read(4)
                state.length, state.type_id = _u24(header[:3]), header[3]
            state.extended = delta == 0xFFFFFF
            if state.extended:
                delta = struct.unpack(">I", await self._read(4))[0]
            state.delta = delta
            state.timestamp = (state.timestamp + delta) & 0xFFFFFFFF
            starts_message = True
        else:
            if state.extended:
                await self._read(4)
            if starts_message:
                state.timestamp = (state.timestamp + state.delta) & 0xFFFFFFFF
        if starts_message:
            if state.length > MAX_MESSAGE_BYTES:
                raise RTMPProtocolError(f"message of {state.length} bytes exceeds {MAX_MESSAGE_BYTES}")
            state.remaining = state.length
            state.buffer = bytearray()
        n = min(self.chunk_size, state.remaining)
        state.buffer += await self._read(n)
        state.remaining -= n
        if state.remaining:
            return None
        return Message(state.type_id, state.stream_id, state.timestamp, bytes(state.buffer))


def _u24(b: bytes) -> int:
    return (b[0] << 16) | (b[1] << 8) | b[2]


def encode_message(msg: Message, chunk_size: int) -> bytes:
    """Chunk a message for sending: one type-0 chunk, then type-3 continuation chunks.

    Protocol control messages go on chunk stream 2 (spec 5.4), everything else on 3.
    """
    csid = 2 if msg.type_id <= MSG_SET_PEER_BANDWIDTH else 3
    ts = min(msg.timestamp, 0xFFFFFF)
    out = bytearray([csid & 0x3F])
    out += ts.to_bytes(3, "big") + len(msg.payload).to_bytes(3, "big") + bytes([msg.type_id])
    out += struct.pack("<I", msg.stream_id)
    for offset in range(0, max(len(msg.payload), 1), chunk_size):
        if offset:
            out.append(0xC0 | (csid & 0x3F))
        out += msg.payload[offset : offset + chunk_size]
    return bytes(out)


def control(type_id: int, value: int, extra: bytes = b"") -> Message:
    return Message(type_id, 0, 0, struct.pack(">I", value) + extra)


def user_control_stream_begin(stream_id: int) -> Message:
    return Message(MSG_USER_CONTROL, 0, 0, struct.pack(">HI", 0, stream_id))


def amf_command(*values: object, stream_id: int = 0) -> Message:
    data = BitStream()
    for value in values:
        AMF0Serializer.create_object(data, value)
    return Message(MSG_COMMAND_AMF0, stream_id, 0, data.bytes)


def on_status(level: str, code: str, description: str, stream_id: int) -> Message:
    """``onStatus`` for NetStream (e.g. ``NetStream.Publish.Start`` or ``NetStream.Publish.BadName``)."""
    return amf_command("onStatus", 0, None, {"level": level, "code": code, "description": description}, stream_id=stream_id)


def decode_amf(msg: Message) -> object:
    """Decode a command or data message with pyrtmp (``NCConnect``, ``NSPublish``, ``MetaDataMessage``, ...)."""
    chunk = Chunk(
        chunk_type=0,
        chunk_id=3,
        timestamp=msg.timestamp,
        msg_length=len(msg.payload),
        msg_type_id=msg.type_id,
        msg_stream_id=msg.stream_id,
        payload=msg.payload,
    )
    return MessageFactory.from_chunk(chunk)
