"""Publishing pre-encoded FLV over raw RTMP, in real time, with the wall time each tag was sent.

``ffmpeg -re`` as an encoder costs a core per few streams here and hides when a frame leaves; this client
replays the tags of one FLV file (encoded once by :func:`encode_flv`) at the pace of their timestamps, so a test
can run many publishers on a small machine, cut all of them in the same instant (:meth:`FlvPublisher.abort`),
and compare what the server made of a frame with the wall-clock time the frame was sent
(:attr:`FlvPublisher.keyframes_sent`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from livecast.providers.local import rtmp
from tests.helpers.encoder import ffmpeg_exe

CHUNK_SIZE = 4096
SET_DATA_FRAME = b"\x02\x00\x0d@setDataFrame"
"""AMF0 string ``@setDataFrame``: what an encoder puts before ``onMetaData`` when it sends it over RTMP."""


@dataclass(frozen=True)
class FlvTag:
    """One FLV tag (Adobe FLV spec E.4.1): ``kind`` 8 audio, 9 video, 18 script; ``timestamp`` in ms."""

    kind: int
    timestamp: int
    payload: bytes

    @property
    def keyframe(self) -> bool:
        return self.kind == 9 and bool(self.payload) and self.payload[0] >> 4 == 1

    @property
    def sequence_header(self) -> bool:
        return self.kind in (8, 9) and len(self.payload) > 1 and self.payload[1] == 0


async def encode_flv(path: Path, *, seconds: float, fps: int = 15, gop_seconds: float = 1.0) -> Path:
    """Encode ``seconds`` of 320x180 H.264 (a keyframe every ``gop_seconds``) + AAC test media into ``path``."""
    gop = max(1, round(fps * gop_seconds))
    process = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate={fps}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", f"{seconds:g}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "300k",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k", "-f", "flv", str(path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")
    return path


def read_flv(path: Path) -> list[FlvTag]:
    """The tags of an FLV file, in file order."""
    data = path.read_bytes()
    assert data[:3] == b"FLV", "not an FLV file"
    offset = int.from_bytes(data[5:9], "big") + 4  # header, then PreviousTagSize0
    tags = []
    while offset + 11 <= len(data):
        kind, size = data[offset] & 0x1F, int.from_bytes(data[offset + 1 : offset + 4], "big")
        timestamp = int.from_bytes(data[offset + 4 : offset + 7], "big") | data[offset + 7] << 24
        payload = data[offset + 11 : offset + 11 + size]
        if len(payload) < size:
            break
        tags.append(FlvTag(kind, timestamp, payload))
        offset += 11 + size + 4
    return tags


def _message(tag: FlvTag) -> rtmp.Message:
    if tag.kind == 18:  # onMetaData as encoders send it: @setDataFrame("onMetaData", {...})
        return rtmp.Message(rtmp.MSG_DATA_AMF0, 1, 0, SET_DATA_FRAME + tag.payload)
    return rtmp.Message(tag.kind, 1, tag.timestamp, tag.payload)


@dataclass
class FlvPublisher:
    """One raw RTMP publisher of ``tags`` to ``port`` with ``stream_key``.

    :meth:`start` connects, publishes and sends the metadata and codec configuration at once, then the media in
    real time (tag ``t`` ms at ``started + t / 1000``) until the tags run out, :meth:`abort` or :meth:`stop`."""

    port: int
    stream_key: str
    tags: list[FlvTag]
    keyframes_sent: dict[int, float] = field(default_factory=dict)
    """Media timestamp (ms) of every keyframe sent → wall-clock time (``time.time()``) just before it was written."""
    started: float = 0.0
    _writer: asyncio.StreamWriter | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> FlvPublisher:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer = writer
        writer.write(bytes([rtmp.RTMP_VERSION]) + os.urandom(rtmp.HANDSHAKE_SIZE))
        await writer.drain()
        s0s1s2 = await asyncio.wait_for(reader.readexactly(1 + 2 * rtmp.HANDSHAKE_SIZE), 10)
        writer.write(s0s1s2[1 : 1 + rtmp.HANDSHAKE_SIZE])
        commands = [
            rtmp.control(rtmp.MSG_SET_CHUNK_SIZE, CHUNK_SIZE),
            rtmp.amf_command("connect", 1, {"app": "live", "type": "nonprivate", "tcUrl": "rtmp://127.0.0.1/live"}),
            rtmp.amf_command("createStream", 2, None),
            rtmp.amf_command("publish", 3, None, self.stream_key, "live", stream_id=1),
        ]
        writer.write(rtmp.encode_message(commands[0], 128))
        writer.write(b"".join(rtmp.encode_message(m, CHUNK_SIZE) for m in commands[1:]))
        await writer.drain()
        self._task = asyncio.create_task(self._send(reader))
        return self

    async def _send(self, reader: asyncio.StreamReader) -> None:
        assert self._writer is not None
        drain = asyncio.create_task(self._discard(reader))  # the server's replies: read so they never block it
        try:
            self.started = time.time()
            for tag in self.tags:
                if tag.kind != 18 and not tag.sequence_header:
                    delay = self.started + tag.timestamp / 1000 - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if tag.keyframe:
                    self.keyframes_sent[tag.timestamp] = time.time()
                self._writer.write(rtmp.encode_message(_message(tag), CHUNK_SIZE))
                await self._writer.drain()
        except ConnectionError:
            pass
        finally:
            drain.cancel()

    @staticmethod
    async def _discard(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    @property
    def sending(self) -> bool:
        return self._task is not None and not self._task.done()

    def abort(self) -> None:
        """Drop the connection now (a TCP reset, as when the encoder's network goes): nothing more is sent."""
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.transport.abort()

    async def stop(self) -> None:
        """Stop sending and close the connection (after what was sent so far)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()

    async def finished(self, timeout: float) -> None:
        """Wait until every tag was sent (the file ran out)."""
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
