"""A real encoder: ffmpeg (imageio-ffmpeg's static build) publishing H.264/AAC test media over RTMP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

import imageio_ffmpeg
import pytest


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


class Encoder:
    """``ffmpeg -re`` publishing ``seconds`` of 640x360 ``fps`` H.264 (1 s GOP) + 440 Hz AAC to ``url``.

    ``cbr``: constant bitrate (x264 ``nal-hrd=cbr``), so that ``bitrate`` is what goes on the wire over any
    second or so (the health tests compare it with what the ingest measures)."""

    def __init__(self, url: str, seconds: float, *, bitrate: str = "800k", fps: int = 30, cbr: bool = False) -> None:
        self.url = url
        self.seconds = seconds
        self.bitrate = bitrate
        self.fps = fps
        self.cbr = cbr
        self.process: asyncio.subprocess.Process | None = None
        self.stderr = b""

    def command(self) -> list[str]:
        rate = ["-b:v", self.bitrate]
        if self.cbr:
            rate += [
                "-minrate",
                self.bitrate,
                "-maxrate",
                self.bitrate,
                "-bufsize",
                self.bitrate,
                "-x264-params",
                "nal-hrd=cbr",
            ]
        return [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={self.fps}",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", str(self.seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(self.fps), "-pix_fmt", "yuv420p",
            *rate, "-c:a", "aac", "-b:a", "96k",
            "-f", "flv", self.url,
        ]  # fmt: skip

    def pause(self) -> None:
        """Freeze the encoder (SIGSTOP): wall time goes on, media time does not (drift grows)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    async def start(self) -> Encoder:
        self.process = await asyncio.create_subprocess_exec(
            *self.command(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        return self

    async def wait(self, timeout: float = 120) -> int:
        assert self.process is not None
        _, self.stderr = await asyncio.wait_for(self.process.communicate(), timeout)
        return self.process.returncode or 0

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)  # a paused encoder must not outlive the test
            self.process.kill()
            with contextlib.suppress(Exception):
                await self.process.wait()


@pytest.fixture
async def encoders() -> AsyncIterator[list[Encoder]]:
    """Encoders registered here are killed at teardown, whatever the test did."""
    started: list[Encoder] = []
    yield started
    for encoder in started:
        await encoder.stop()


async def decode_ok(path: str) -> tuple[bool, str]:
    """Decode a media file fully with ffmpeg (``-f null``); returns (ok, stderr)."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    return process.returncode == 0 and not err.strip(), err.decode(errors="replace")
