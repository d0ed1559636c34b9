"""A raw RTMP client for tests that must send what no real encoder sends (bytes on the wire, chunk by chunk)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct

from livecast.providers.local import rtmp

HANDSHAKE = rtmp.HANDSHAKE_SIZE


def chunk_header(csid: int, *, length: int, type_id: int, stream_id: int = 0, timestamp: int = 0) -> bytes:
    """A type-0 chunk header (csid 2-63): announces a message of ``length`` bytes."""
    assert 2 <= csid <= 63
    return (
        bytes([csid])
        + timestamp.to_bytes(3, "big")
        + length.to_bytes(3, "big")
        + bytes([type_id])
        + struct.pack("<I", stream_id)
    )


def set_chunk_size(size: int) -> bytes:
    return chunk_header(2, length=4, type_id=rtmp.MSG_SET_CHUNK_SIZE) + struct.pack(">I", size)


def message(csid: int, msg: rtmp.Message, chunk_size: int) -> bytes:
    """``msg`` as chunks on chunk stream ``csid`` (a type-0 chunk, then type-3 continuation chunks)."""
    header = chunk_header(
        csid, length=len(msg.payload), type_id=msg.type_id, stream_id=msg.stream_id, timestamp=msg.timestamp
    )
    out = bytearray(header)
    for offset in range(0, max(len(msg.payload), 1), chunk_size):
        if offset:
            out.append(0xC0 | csid)
        out += msg.payload[offset : offset + chunk_size]
    return bytes(out)


def publish_commands(stream_key: str, chunk_size: int = 128) -> bytes:
    """What ffmpeg sends from ``connect`` to ``publish`` (without waiting for the replies it does not need)."""
    connect = rtmp.amf_command("connect", 1, {"app": "live", "type": "nonprivate", "tcUrl": "rtmp://127.0.0.1/live"})
    create = rtmp.amf_command("createStream", 2, None)
    publish = rtmp.amf_command("publish", 3, None, stream_key, "live", stream_id=1)
    return b"".join(message(3, m, chunk_size) for m in (connect, create)) + message(8, publish, chunk_size)


class RawRTMP:
    """One TCP connection to an RTMP port."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.received = bytearray()

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> RawRTMP:
        return cls(*await asyncio.open_connection(host, port))

    async def handshake(self) -> None:
        """C0+C1, read S0+S1+S2, C2. Raises ``asyncio.IncompleteReadError`` if the server closes instead."""
        self.writer.write(bytes([rtmp.RTMP_VERSION]) + os.urandom(HANDSHAKE))
        await self.writer.drain()
        s0s1s2 = await asyncio.wait_for(self.reader.readexactly(1 + 2 * HANDSHAKE), 5)
        self.writer.write(s0s1s2[1 : 1 + HANDSHAKE])
        await self.writer.drain()

    async def send(self, data: bytes, piece: int = 256 * 1024) -> bool:
        """Write ``data`` ``piece`` bytes at a time; False (and stop) once the server has closed the connection."""
        view = memoryview(data)
        try:
            for offset in range(0, len(view), piece):
                if self.writer.is_closing() or self.reader.at_eof():
                    return False
                self.writer.write(view[offset : offset + piece])
                await self.writer.drain()
        except ConnectionError:
            return False
        return True

    async def closed_by_server(self, timeout: float) -> bool:
        """True when the server closes the connection (EOF or reset) within ``timeout`` seconds; what it sent
        meanwhile is kept in ``received``."""
        try:
            async with asyncio.timeout(timeout):
                while data := await self.reader.read(65536):
                    self.received += data
        except ConnectionError:
            return True
        except TimeoutError:
            return False
        return True

    async def read_until(self, marker: bytes, timeout: float) -> bool:
        """Read until ``marker`` is in what the server sent; False on EOF or timeout."""
        try:
            async with asyncio.timeout(timeout):
                while marker not in self.received:
                    data = await self.reader.read(65536)
                    if not data:
                        return False
                    self.received += data
        except (TimeoutError, ConnectionError):
            return False
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
