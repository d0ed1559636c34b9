"""The local provider's own rules beyond the contract: ``ACTIVE`` only while the pipeline writes the playlist."""

from __future__ import annotations

import os
import time

from livecast.providers.base import StreamRef
from livecast.providers.local.provider import LocalProvider
from livecast.settings import Settings


async def test_status_follows_the_freshness_of_the_playlist(settings: Settings) -> None:
    provider = LocalProvider(settings.model_copy(update={"hls_segment_seconds": 2.0}))
    ref = StreamRef(None, "lk_key", "pbFresh1", "PUBLIC")
    assert (await provider.get_stream(ref)).status == "IDLE"  # nothing written yet
    playlist = settings.hls_dir / "pbFresh1" / "index.m3u8"
    playlist.parent.mkdir(parents=True)
    playlist.write_text("#EXTM3U\n")
    assert (await provider.get_stream(ref)).status == "ACTIVE"
    stale = time.time() - 7  # older than max(3 segments, 6 s): the encoder is gone
    os.utime(playlist, (stale, stale))
    assert (await provider.get_stream(ref)).status == "IDLE"
    await provider.delete_stream(ref)
    assert not playlist.parent.exists()
