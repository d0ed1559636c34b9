"""Every ffmpeg the ingest starts is stopped (issue #11): ``HlsPipeline.close`` ends its input, then terminates,
then kills a process that lingers, and kills it when the close itself is cancelled. A stand-in "ffmpeg" that
ignores both the end of its input and SIGTERM plays the stubborn process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from livecast.providers.local import pipeline
from livecast.providers.local.pipeline import HlsPipeline


@pytest.fixture
def stubborn(tmp_path: Path) -> str:
    """An executable that ignores SIGTERM (inherited by ``sleep``) and never reads its input."""
    script = tmp_path / "stubborn-ffmpeg"
    script.write_text("#!/bin/sh\ntrap '' TERM\nexec sleep 60\n")
    script.chmod(0o755)
    return str(script)


def stubborn_pipeline(ffmpeg: str, tmp_path: Path) -> HlsPipeline:
    return HlsPipeline(ffmpeg=ffmpeg, out_dir=tmp_path / "out", segment_seconds=1, list_size=3)


async def test_a_lingering_ffmpeg_is_terminated_then_killed(
    stubborn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "KILL_AFTER", 0.5)
    p = stubborn_pipeline(stubborn, tmp_path)
    await p.start()
    assert p.process is not None
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(p.close(timeout=0.5), 10)
    assert p.process.returncode == -signal.SIGKILL, "SIGTERM is ignored: killed after the grace period"
    assert 1.0 <= loop.time() - began < 5


async def test_a_cancelled_close_kills_ffmpeg(stubborn: str, tmp_path: Path) -> None:
    p = stubborn_pipeline(stubborn, tmp_path)
    await p.start()
    assert p.process is not None
    closing = asyncio.create_task(p.close(timeout=30))
    await asyncio.sleep(0.2)
    closing.cancel()
    await asyncio.gather(closing, return_exceptions=True)
    assert await asyncio.wait_for(p.process.wait(), 5) == -signal.SIGKILL
