"""RTMP chunk stream reassembly (Adobe RTMP specification 1.0, section 5.3) under per-connection limits.

The hot path of the ingest (every media byte passes through it), implemented here rather than with pyrtmp's
reader, which mishandles a type-3 chunk that starts a new message (it does not add the timestamp delta, which
ffmpeg relies on for audio). What a peer may make a connection hold is bounded by :class:`ChunkLimits`: small
before a publish is authorised (anyone can connect), larger for an authorised publisher.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

from livecast.providers.local.rtmp import (
    AMF_TYPES,
    MAX_CHUNK_SIZE,
    MSG_ABORT,
    MSG_SET_CHUNK_SIZE,
    Message,
    RTMPProtocolError,
)

KIB, MIB = 1024, 1024 * 1024


@dataclass(frozen=True)
class ChunkLimits:
    """What one connection's :class:`ChunkReader` may hold or read (all in bytes); more is an ``RTMPProtocolError``.

    ``message_bytes`` bounds one message's declared length (``amf_bytes`` for command and data messages);
    ``partial_bytes`` bounds the declared lengths of all messages in progress on the connection's chunk streams
    together; both are checked when a message is announced, before any of its bytes is read, and a payload grows
    only with the bytes that arrive (never preallocated from a declared length). ``chunk_streams`` bounds the
    chunk stream ids in use; ``read_bytes`` the bytes read under these limits (``None``: unbounded)."""

    message_bytes: int
    amf_bytes: int
    partial_bytes: int
    chunk_streams: int
    read_bytes: int | None = None


BEFORE_PUBLISH = ChunkLimits(
    message_bytes=8 * KIB,
    amf_bytes=8 * KIB,
    partial_bytes=16 * KIB,
    chunk_streams=8,
    read_bytes=16 * KIB,
)
"""Until a publish is authorised (anyone can connect): ffmpeg sends 346 bytes from the handshake to ``publish``
(its largest message, ``connect``, is 139 bytes) on chunk streams 2, 3 and 8; these bounds leave ~45x headroom
(long tokens in ``tcUrl`` or the key) and cap what an anonymous connection costs: 16 KiB buffered on top of the
stream reader's buffer, and at most 16 KiB of AMF to decode (~0.1 s of CPU)."""
PUBLISHING = ChunkLimits(message_bytes=8 * MIB, amf_bytes=64 * KIB, partial_bytes=32 * MIB, chunk_streams=64)
"""An authorised publisher: one message up to 8 MiB (a 4K keyframe is ~1-2 MiB), 32 MiB in progress at once. An
encoder interleaves at most audio, video and data (ffmpeg uses chunk streams 4, 6 and 8), so three 8 MiB messages
(24 MiB) fit; 32 MiB instead of 64 streams x 8 MiB = 512 MiB that one connection could pin before. AMF messages
(``onMetaData`` is ~0.3-1 KiB) are decoded only when needed and small (``rtmp.amf_name`` reads just the name)."""


@dataclass
class _ChunkStream:
    timestamp: int = 0
    delta: int = 0
    length: int = 0
    type_id: int = 0
    stream_id: int = 0
    extended: bool = False
    remaining: int = 0
    reserved: int = 0
    """This stream's share of the reader's in-progress total: the declared length of its message in progress."""
    buffer: bytearray = field(default_factory=bytearray)


class ChunkReader:
    """Reassembles RTMP messages from chunks; handles Set Chunk Size and Abort itself.

    Starts with :data:`BEFORE_PUBLISH` limits; the ingest sets ``limits`` to :data:`PUBLISHING` once a publish is
    authorised. ``bytes_read`` counts every byte read (for acknowledgements)."""

    def __init__(self, reader: asyncio.StreamReader, limits: ChunkLimits = BEFORE_PUBLISH) -> None:
        self._reader = reader
        self.chunk_size = 128
        self.bytes_read = 0
        self._streams: dict[int, _ChunkStream] = {}
        self._partial = 0
        """Declared bytes of the messages in progress (the sum of the streams' ``reserved``)."""
        self._budget_start = 0
        self.limits = limits

    @property
    def limits(self) -> ChunkLimits:
        return self._limits

    @limits.setter
    def limits(self, limits: ChunkLimits) -> None:
        """New limits apply to messages announced from now on; ``read_bytes`` counts from now on."""
        self._limits = limits
        self._budget_start = self.bytes_read

    async def _read(self, n: int) -> bytes:
        budget = self._limits.read_bytes
        if budget is not None and self.bytes_read + n - self._budget_start > budget:
            raise RTMPProtocolError(f"more than {budget} bytes before publish")
        data = await self._reader.readexactly(n)
        self.bytes_read += n
        return data

    async def read_message(self) -> Message:
        while True:
            message = await self._read_chunk()
            if message is None:
                continue
            if message.type_id == MSG_SET_CHUNK_SIZE:
                size = int.from_bytes(message.payload[:4].ljust(4, b"\0"), "big") & 0x7FFFFFFF
                if not 1 <= size <= MAX_CHUNK_SIZE:
                    raise RTMPProtocolError(f"invalid chunk size {size}")
                self.chunk_size = size
                continue
            if message.type_id == MSG_ABORT:
                stream = self._streams.get(int.from_bytes(message.payload[:4].ljust(4, b"\0"), "big"))
                if stream is not None:
                    self._drop_partial(stream)
                continue
            return message

    def _drop_partial(self, state: _ChunkStream) -> None:
        """Forget the message in progress on ``state`` (if any) and release its share of ``partial_bytes``."""
        self._partial -= state.reserved
        state.reserved = state.remaining = 0
        state.buffer = bytearray()

    def _announce(self, state: _ChunkStream) -> None:
        """A message of ``state.length`` bytes starts on ``state``: check the limits before reading any of it."""
        self._drop_partial(state)
        limits = self._limits
        limit = limits.amf_bytes if state.type_id in AMF_TYPES else limits.message_bytes
        if state.length > limit:
            raise RTMPProtocolError(f"message of {state.length} bytes (type {state.type_id}) exceeds {limit}")
        if self._partial + state.length > limits.partial_bytes:
            raise RTMPProtocolError(f"messages in progress exceed {limits.partial_bytes} bytes")
        self._partial += state.length
        state.reserved = state.remaining = state.length

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
            if len(self._streams) >= self._limits.chunk_streams:
                raise RTMPProtocolError(f"more than {self._limits.chunk_streams} chunk streams")
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
            state.timestamp, state.delta, state.length, state.type_id = (
                ts,
                ts,
                length,
                type_id,
            )
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
            self._announce(state)
        n = min(self.chunk_size, state.remaining)
        state.buffer += await self._read(n)
        state.remaining -= n
        if state.remaining:
            return None
        payload = bytes(state.buffer)
        self._drop_partial(state)
        return Message(state.type_id, state.stream_id, state.timestamp, payload)


def _u24(b: bytes) -> int:
    return (b[0] << 16) | (b[1] << 8) | b[2]
