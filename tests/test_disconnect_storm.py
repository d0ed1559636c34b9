"""Eight encoders dropping in the same instant, then a GraphQL query, 20 rounds in a row (issue #11, item 5).

The hang it guards against: a publish's health task is cancelled when its encoder goes, and when the cancel
landed while the task was opening its health transaction, Tortoise kept the SQLite client's lock (PostgreSQL:
a pool connection) for ever, so every later query of the process waited (``/healthz`` answered, GraphQL did
not, streams stayed ``LIVE``). Samples every 0.1 s keep such transactions in flight whenever the encoders go.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from livecast.providers.local.playlist import PLAYLIST
from livecast.settings import Settings
from tests.conftest import Server
from tests.helpers.client import create_stream, gql_http
from tests.helpers.flv_publisher import FlvPublisher, FlvTag, encode_flv, read_flv
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e

ROUNDS = 20
ENCODERS = 8
QUERY_DEADLINE = 10.0
"""Seconds a GraphQL query may take after the encoders dropped (it takes milliseconds; a hang never ends)."""


@pytest.fixture(scope="module")
async def media(tmp_path_factory: pytest.TempPathFactory) -> list[FlvTag]:
    return read_flv(await encode_flv(tmp_path_factory.mktemp("flv") / "media.flv", seconds=8))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"health_sample_seconds": 0.1, "ingest_max_pending_per_address": 2 * ENCODERS})


@contextlib.asynccontextmanager
async def publishing(server: Server, keys: list[str], tags: list[FlvTag]) -> AsyncIterator[list[FlvPublisher]]:
    publishers: list[FlvPublisher] = []
    try:
        for key in keys:
            publishers.append(await FlvPublisher(server.settings.rtmp_port, key, tags).start())
        yield publishers
    finally:
        for publisher in publishers:
            await publisher.stop()


def statuses_query(ids: list[str]) -> str:
    return "query { " + " ".join(f's{i}: stream(id: "{sid}") {{ status }}' for i, sid in enumerate(ids)) + " }"


async def statuses(server: Server, ids: list[str]) -> list[str]:
    data = await asyncio.wait_for(gql_http(server.graphql_http, statuses_query(ids)), QUERY_DEADLINE)
    return [data[f"s{i}"]["status"] for i in range(len(ids))]


async def all_are(server: Server, ids: list[str], status: str) -> bool:
    return await statuses(server, ids) == [status] * len(ids)


async def test_eight_encoders_drop_at_once_and_queries_still_answer(server: Server, media: list[FlvTag]) -> None:
    for round_ in range(ROUNDS):
        token = await server.token(f"storm{round_}")  # 8 streams per user: under the per-user limits
        streams = await asyncio.gather(
            *(create_stream(server.graphql_http, token, reconnectWindow=0) for _ in range(ENCODERS))
        )
        ids = [s["id"] for s in streams]
        async with publishing(server, [s["ingest"]["streamKey"] for s in streams], media) as publishers:
            live = partial(all_are, server, ids, "LIVE")
            await eventually(live, timeout=30, interval=0.2, what=f"8 streams LIVE (round {round_})")
            assert all(p.sending for p in publishers), "the media ran out before the disconnect"
            for publisher in publishers:  # the same instant: no await between them
                publisher.abort()
            try:
                await statuses(server, ids)
            except TimeoutError:
                pytest.fail(f"round {round_}: a GraphQL query got no answer {QUERY_DEADLINE:g} s after the drop")
            ended = partial(all_are, server, ids, "ENDED")
            await eventually(ended, timeout=20, interval=0.2, what=f"8 streams ENDED (round {round_})")
        playlists = [server.settings.hls_dir / Path(s["playback"]["hlsUrl"]).parent.name / PLAYLIST for s in streams]
        await eventually(partial(all_ended_lists, playlists), timeout=10, what=f"EXT-X-ENDLIST (round {round_})")


def all_ended_lists(playlists: list[Path]) -> bool:
    """Every playlist ends with ``EXT-X-ENDLIST`` (written by the ingest just after the stream is ``ENDED``)."""
    return all(p.exists() and p.read_text().rstrip().endswith("#EXT-X-ENDLIST") for p in playlists)
