"""RTMP wire protocol for the ingest: handshake, messages, and the few replies a publisher needs.

Command and data payloads (AMF0) are decoded by ``pyrtmp``; chunk stream reassembly is in
:mod:`livecast.providers.local.chunks`. Reference: Adobe RTMP specification 1.0, sections 5.2 (handshake),
5.3 (chunking) and 5.4 (protocol control messages).
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from dataclasses import dataclass

from bitstring import BitStream

logging.getLogger("pyrtmp").setLevel(logging.ERROR)
from pyrtmp.amf.serializers import AMF0Serializer  # noqa: E402 (after quieting pyrtmp's DEBUG loggers)
from pyrtmp.messages import Chunk  # noqa: E402
from pyrtmp.messages.factory import MessageFactory  # noqa: E402

for _name in list(logging.root.manager.loggerDict):
    if _name.startswith("pyrtmp"):
        logging.getLogger(_name).setLevel(logging.ERROR)

HANDSHAKE_SIZE = 1536
RTMP_VERSION = 3
MAX_CHUNK_SIZE = 0xFFFFFF
"""Largest chunk size a peer may set (spec 5.4.1: 24 bits). Not limited further: a chunk never carries more
than what is left of its message, so :class:`ChunkLimits` bound every read whatever the chunk size."""
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
AMF_TYPES = frozenset({MSG_DATA_AMF0, MSG_COMMAND_AMF0, 0x0F, 0x11})
"""Command and data messages (AMF0 and AMF3): decoding them is slow (pyrtmp: ~7 µs per byte), so they have
their own, small size limit (``chunks.ChunkLimits.amf_bytes``)."""
AMF0_STRING = 0x02
METADATA_DECODE_BYTES = 16 * 1024
"""``onMetaData`` (~0.3-1 KiB from OBS or ffmpeg) larger than this is not decoded (it would hold the event loop for
over 0.1 s); the media goes on without it."""


class RTMPProtocolError(Exception):
    """The peer sent bytes that are not valid RTMP; the connection is dropped."""


@dataclass
class Message:
    """One reassembled RTMP message. ``timestamp`` is in milliseconds (absolute, 32-bit wrap)."""

    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


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
    return amf_command(
        "onStatus",
        0,
        None,
        {"level": level, "code": code, "description": description},
        stream_id=stream_id,
    )


def amf_name(msg: Message) -> str:
    """The name of an AMF0 command or data message (its first value, e.g. ``publish`` or ``@setDataFrame``)
    without decoding the rest; ``""`` if the message does not start with an AMF0 string."""
    payload = msg.payload
    if len(payload) < 3 or payload[0] != AMF0_STRING:
        return ""
    return payload[3 : 3 + int.from_bytes(payload[1:3], "big")].decode("utf-8", "replace")


def is_small_metadata(msg: Message) -> bool:
    """An ``@setDataFrame`` data message (``onMetaData``) of at most :data:`METADATA_DECODE_BYTES`."""
    return len(msg.payload) <= METADATA_DECODE_BYTES and amf_name(msg) == "@setDataFrame"


def decode_amf(msg: Message) -> object:
    """Decode a command or data message with pyrtmp (``NCConnect``, ``NSPublish``, ``MetaDataMessage``, ...).

    Costs ~7 µs of CPU per payload byte: callers decode only messages they need (:func:`amf_name`). Raises
    ``RTMPProtocolError`` if the payload is not valid AMF0 (pyrtmp raises anything, even ``RecursionError``)."""
    chunk = Chunk(
        chunk_type=0,
        chunk_id=3,
        timestamp=msg.timestamp,
        msg_length=len(msg.payload),
        msg_type_id=msg.type_id,
        msg_stream_id=msg.stream_id,
        payload=msg.payload,
    )
    try:
        return MessageFactory.from_chunk(chunk)
    except Exception as e:
        raise RTMPProtocolError(f"undecodable AMF message (type {msg.type_id}): {type(e).__name__}") from None
