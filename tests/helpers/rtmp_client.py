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


# --------------------------------------------------------------------------- a publisher of real media, by hand

FLV_AUDIO, FLV_VIDEO, FLV_SCRIPT = 8, 9, 18
CSID = {FLV_AUDIO: 4, FLV_VIDEO: 6, FLV_SCRIPT: 5}
"""Chunk streams per message type (ffmpeg's choice: audio 4, video 6; data on its own)."""
MEDIA_CHUNK_SIZE = 60_000
SET_DATA_FRAME = b"\x02\x00\x0d@setDataFrame"
"""AMF0 string ``@setDataFrame``: what an encoder puts before ``onMetaData`` when it sends it over RTMP."""


def flv_tags(data: bytes) -> list[tuple[int, int, bytes]]:
    """The tags of an FLV file (Adobe FLV spec E.3, E.4) as ``(type, timestamp ms, payload)``, in file order."""
    assert data[:3] == b"FLV", "not an FLV file"
    offset = int.from_bytes(data[5:9], "big") + 4  # header, then PreviousTagSize0
    tags = []
    while offset + 11 <= len(data):
        tag_type, size = data[offset], int.from_bytes(data[offset + 1 : offset + 4], "big")
        timestamp = int.from_bytes(data[offset + 4 : offset + 7], "big") | (data[offset + 7] << 24)
        payload = data[offset + 11 : offset + 11 + size]
        if len(payload) < size:
            break
        tags.append((tag_type, timestamp, payload))
        offset += 11 + size + 4
    return tags


async def encode_flv(
    path: str, seconds: float, *, size: str = "320x180", fps: int = 30
) -> list[tuple[int, int, bytes]]:
    """Encode ``seconds`` of H.264 (1 s GOP) + AAC test media into an FLV file at ``path`` with the real ffmpeg;
    returns its tags (what :meth:`RawRTMP.send_media` sends)."""
    import imageio_ffmpeg

    process = await asyncio.create_subprocess_exec(
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}", "-f", "lavfi", "-i", "sine=frequency=440",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-f", "flv", path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")
    with open(path, "rb") as f:  # noqa: ASYNC230 - a small file, once per test session
        return flv_tags(f.read())


class Publisher(RawRTMP):
    """A raw client that publishes like an encoder: ``publish`` (connect, createStream, publish), real media
    paced in real time, ``unpublish`` (``FCUnpublish`` + ``deleteStream``, what OBS and ffmpeg send on Stop),
    or nothing at all while the socket stays open (a stalled, half-open encoder)."""

    stream_id = 1

    async def publish(self, stream_key: str, timeout: float = 10) -> bool:
        """Handshake and publish; True on ``NetStream.Publish.Start``, False on a refusal (``BadName``) or when
        the server closes the connection or says nothing within ``timeout`` s."""
        await self.handshake()
        await self.send(publish_commands(stream_key))
        try:
            async with asyncio.timeout(timeout):
                while (
                    b"NetStream.Publish.Start" not in self.received
                    and b"NetStream.Publish.BadName" not in self.received
                ):
                    data = await self.reader.read(65536)
                    if not data:
                        return False
                    self.received += data
        except (TimeoutError, ConnectionError):
            return False
        if b"NetStream.Publish.Start" not in self.received:
            return False
        await self.send(set_chunk_size(MEDIA_CHUNK_SIZE))
        return True

    @property
    def refusal(self) -> str:
        """What the server said (its ``onStatus`` messages are in ``received``)."""
        return bytes(self.received).decode("latin-1")

    async def send_media(
        self, tags: list[tuple[int, int, bytes]], *, seconds: float | None = None, offset: int = 0
    ) -> bool:
        """Send ``tags`` as RTMP audio/video/data messages, each when its timestamp is due (like ``ffmpeg -re``),
        for at most ``seconds`` of media; timestamps are shifted by ``offset`` ms. False once the server has
        closed the connection."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for tag_type, timestamp, payload in tags:
            if seconds is not None and timestamp > seconds * 1000:
                break
            if tag_type not in CSID:
                continue
            if tag_type == FLV_SCRIPT:
                payload = SET_DATA_FRAME + payload
            due = start + timestamp / 1000 - loop.time()
            if due > 0:
                await asyncio.sleep(due)
            msg = rtmp.Message(
                tag_type if tag_type != FLV_SCRIPT else rtmp.MSG_DATA_AMF0, self.stream_id, timestamp + offset, payload
            )
            if not await self.send(message(CSID[tag_type], msg, MEDIA_CHUNK_SIZE)):
                return False
        return True

    async def unpublish(self, stream_key: str) -> bool:
        """``FCUnpublish(key)`` then ``deleteStream(1)``, as ffmpeg and OBS send them on a clean stop."""
        fc = rtmp.amf_command("FCUnpublish", 6, None, stream_key)
        delete = rtmp.amf_command("deleteStream", 7, None, float(self.stream_id))
        return await self.send(message(3, fc, MEDIA_CHUNK_SIZE) + message(3, delete, MEDIA_CHUNK_SIZE))
