"""The durable reconnect window (issue #11, item 4): the deadline is stored with the status, a periodic job ends
streams whose deadline passed, and an ingest reconciles its streams when it starts.

On the domain (SQLite or PostgreSQL, whichever the session runs on), then against a real ``livecast serve``
process that is killed while one stream is ``RECONNECTING`` and another ``LIVE``, and started again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from livecast.domain import encoder, reconnect, streams
from livecast.domain.auth import Principal, ensure_user, issue_token
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.validation import StreamFields
from tests.conftest import TEST_SECRET
from tests.helpers.client import create_stream
from tests.helpers.processes import LivecastProcess, ffmpeg_children, free_port, livecast_processes
from tests.helpers.rtmp_client import Publisher, encode_flv
from tests.helpers.waiting import eventually

S = StreamStatus
ME, OTHER = "host-a:1935", "host-b:1935"


async def owner() -> Principal:
    user = await ensure_user(name="owner", roles=[])
    return Principal(user_id=str(user.id), name=user.name, roles=frozenset())


async def live(deps: Deps, ingest_id: str | None = ME, **fields: object) -> Stream:
    stream = await streams.create_stream(deps=deps, actor=await owner(), fields=StreamFields(title="t", **fields))
    await encoder.encoder_connected(deps=deps, stream_id=str(stream.id), ingest_id=ingest_id)
    return await encoder.media_ready(deps=deps, stream_id=str(stream.id))


async def test_a_disconnect_stores_the_deadline_and_the_job_ends_the_stream_after_it(deps: Deps) -> None:
    stream = await live(deps, reconnect_window=30)
    sid = str(stream.id)
    before = datetime.now(UTC)
    dropped = await encoder.encoder_disconnected(deps=deps, stream_id=sid, ingest_id=ME)
    row = await Stream.get(id=sid)
    assert row.status is S.RECONNECTING and row.reconnect_deadline == dropped.reconnect_deadline
    assert before + timedelta(seconds=30) <= row.reconnect_deadline <= datetime.now(UTC) + timedelta(seconds=30)

    deadline = row.reconnect_deadline
    assert await reconnect.end_streams_past_reconnect_deadline(deps=deps, now=deadline - timedelta(seconds=1)) == []
    with pytest.raises(InvalidState):  # the ingest's timer, early: refused, the stored deadline is the truth
        await encoder.reconnect_window_expired(deps=deps, stream_id=sid, now=deadline - timedelta(seconds=1))
    assert await reconnect.end_streams_past_reconnect_deadline(deps=deps, now=deadline) == [sid]
    ended = await Stream.get(id=sid)
    assert (ended.status, ended.reconnect_deadline) == (S.ENDED, None)
    assert await reconnect.end_streams_past_reconnect_deadline(deps=deps, now=deadline) == []


async def test_an_encoder_that_is_back_moves_the_deadline_and_live_clears_it(deps: Deps) -> None:
    stream = await live(deps, reconnect_window=30)
    sid = str(stream.id)
    first = (await encoder.encoder_disconnected(deps=deps, stream_id=sid, ingest_id=ME)).reconnect_deadline
    assert first is not None
    await asyncio.sleep(0.05)
    back = await encoder.encoder_connected(deps=deps, stream_id=sid, ingest_id=ME)
    assert back.status is S.RECONNECTING and back.reconnect_deadline > first
    assert await reconnect.end_streams_past_reconnect_deadline(deps=deps, now=first) == [], "the encoder is back"
    again = await encoder.encoder_disconnected(deps=deps, stream_id=sid, ingest_id=ME)  # dropped before a segment
    assert again.status is S.RECONNECTING and again.reconnect_deadline >= back.reconnect_deadline
    await encoder.encoder_connected(deps=deps, stream_id=sid, ingest_id=ME)
    assert (await encoder.media_ready(deps=deps, stream_id=sid)).status is S.LIVE
    assert (await Stream.get(id=sid)).reconnect_deadline is None


async def test_a_clean_stop_ends_the_stream_unless_end_on_unpublish_is_off(deps: Deps) -> None:
    ends, waits = await live(deps), await live(deps, end_on_unpublish=False)
    stopped = await encoder.encoder_disconnected(deps=deps, stream_id=str(ends.id), ingest_id=ME, unpublished=True)
    assert stopped.status is S.ENDED
    waiting = await encoder.encoder_disconnected(deps=deps, stream_id=str(waits.id), ingest_id=ME, unpublished=True)
    assert waiting.status is S.RECONNECTING and waiting.reconnect_deadline is not None


async def test_another_ingest_serving_the_stream_is_left_alone(deps: Deps) -> None:
    stream = await live(deps, ingest_id=ME)
    sid = str(stream.id)
    await encoder.encoder_connected(deps=deps, stream_id=sid, ingest_id=OTHER)  # the encoder moved (takeover)
    with pytest.raises(encoder.ServedElsewhere):
        await encoder.encoder_disconnected(deps=deps, stream_id=sid, ingest_id=ME)
    assert (await Stream.get(id=sid)).status is S.LIVE


async def test_an_ingest_reconciles_its_own_streams_at_start(deps: Deps) -> None:
    mine_live, mine_preparing = await live(deps, reconnect_window=40), await live(deps)
    await Stream.filter(id=mine_preparing.id).update(status=S.PREPARING)
    mine_reconnecting, legacy = await live(deps, reconnect_window=40), await live(deps, ingest_id=None)
    kept = (await encoder.encoder_disconnected(deps=deps, stream_id=str(mine_reconnecting.id))).reconnect_deadline
    no_window = await live(deps, reconnect_window=0)
    theirs = await live(deps, ingest_id=OTHER)
    mine_ended = await live(deps)
    await streams.end_stream(deps=deps, actor=await owner(), stream_id=str(mine_ended.id))

    now = datetime.now(UTC) + timedelta(seconds=5)
    orphans = {o.stream_id: o for o in await reconnect.reconcile_ingest(deps=deps, ingest_id=ME, now=now)}
    rows = {str(r.id): r for r in await Stream.all()}
    for s in (mine_live, mine_preparing, legacy):
        row = rows[str(s.id)]
        assert (row.status, row.ingest_id) == (S.RECONNECTING, ME)
        assert row.reconnect_deadline == now + timedelta(seconds=row.reconnect_window)
        assert orphans[str(s.id)].reconnect_deadline == row.reconnect_deadline
    assert (
        rows[str(mine_reconnecting.id)].reconnect_deadline
        == kept
        == orphans[str(mine_reconnecting.id)].reconnect_deadline
    )
    assert rows[str(no_window.id)].status is S.ENDED and orphans[str(no_window.id)].reconnect_deadline is None
    assert orphans[str(mine_ended.id)].reconnect_deadline is None, "its playlist still needs EXT-X-ENDLIST"
    assert str(theirs.id) not in orphans and rows[str(theirs.id)].status is S.LIVE

    await reconnect.release_ingest(stream_id=str(mine_ended.id), ingest_id=ME)
    again = await reconnect.reconcile_ingest(deps=deps, ingest_id=ME, now=now)
    assert str(mine_ended.id) not in {o.stream_id for o in again}


async def test_a_restart_during_reconnecting_ends_streams_when_their_stored_window_passes(
    deps: Deps, database_url: str, tmp_path: Path
) -> None:
    """``livecast serve`` killed (SIGKILL) while stream A is RECONNECTING (window 20 s) and B is LIVE (window 10 s),
    then started again: A ends when its stored deadline passes, B is RECONNECTING at once and ends 10 s later; both
    playlists get ``EXT-X-ENDLIST``."""
    media = await encode_flv(str(tmp_path / "media.flv"), 10)
    user = await ensure_user(name="alice", roles=[])
    token = issue_token(user=user, key=TEST_SECRET, ttl_seconds=3600)
    http, rtmp = free_port(), free_port()
    env = {
        "LIVECAST_DATABASE_URL": database_url,
        "LIVECAST_SECRET_KEY": TEST_SECRET,
        "LIVECAST_DATA_DIR": str(tmp_path / "data"),
        "LIVECAST_HTTP_PORT": str(http),
        "LIVECAST_RTMP_PORT": str(rtmp),
        "LIVECAST_HLS_SEGMENT_SECONDS": "1",
        "LIVECAST_LIFECYCLE_CHECK_SECONDS": "0.5",
        "LIVECAST_LOG_LEVEL": "INFO",
    }
    async with livecast_processes() as processes:
        first = LivecastProcess("serve --no-migrate", env, tmp_path / "first.log")
        processes.append(await first.start())
        await first.ready(http_port=http, rtmp_port=rtmp)
        api = f"http://127.0.0.1:{http}/graphql"
        a = await create_stream(api, token, title="A", reconnectWindow=20)
        b = await create_stream(api, token, title="B", reconnectWindow=10)
        pa, pb = await Publisher.connect(rtmp), await Publisher.connect(rtmp)
        assert await pa.publish(a["ingest"]["streamKey"]) and await pb.publish(b["ingest"]["streamKey"])
        await asyncio.gather(pa.send_media(media, seconds=3), pb.send_media(media, seconds=3))
        for s in (a, b):
            await eventually(lambda s=s: _is(s["id"], S.LIVE), what=f"{s['title']} LIVE")
        await pa.close()  # A's encoder drops: RECONNECTING for 20 s
        await eventually(lambda: _is(a["id"], S.RECONNECTING), timeout=10, what="A RECONNECTING")

        assert first.process is not None
        first.process.kill()  # a crash: no shutdown, the in-memory timer is gone
        await first.process.wait()
        killed = datetime.now(UTC)
        await pb.close()
        media_dir = str(tmp_path / "data" / "media")
        await eventually(lambda: ffmpeg_children(None, media_dir) == [], timeout=10, what="its packagers to exit")

        restarting = datetime.now(UTC)
        second = LivecastProcess("serve --no-migrate", env, tmp_path / "second.log")
        processes.append(await second.start())
        await second.ready(http_port=http, rtmp_port=rtmp)
        assert await _is(a["id"], S.RECONNECTING), "A keeps waiting for its encoder"
        assert await _is(b["id"], S.RECONNECTING), "B lost its publisher with the first process"
        deadline_a = (await Stream.get(id=a["id"])).reconnect_deadline
        deadline_b = (await Stream.get(id=b["id"])).reconnect_deadline
        assert deadline_a is not None and deadline_a <= killed + timedelta(seconds=20), "A keeps its stored deadline"
        assert deadline_b is not None and deadline_b >= restarting + timedelta(seconds=10), "B gets a fresh window"

        for s, deadline in ((a, deadline_a), (b, deadline_b)):
            left = (deadline - datetime.now(UTC)).total_seconds() + 10
            await eventually(lambda s=s: _is(s["id"], S.ENDED), timeout=left, what=f"{s['title']} ENDED")
            ended_at = (await Stream.get(id=s["id"])).ended_at
            assert ended_at is not None and ended_at >= deadline, "never before the stored deadline"
        for s in (a, b):
            await eventually(lambda s=s: _endlist(s["playback"]["hlsUrl"]), timeout=5, what="EXT-X-ENDLIST")
        assert "Traceback" not in second.output(), second.output()


async def _is(stream_id: str, expected: StreamStatus) -> bool:
    return (await Stream.get(id=stream_id)).status is expected


async def _endlist(url: str) -> bool:
    async with httpx.AsyncClient() as client:
        return "#EXT-X-ENDLIST" in (await client.get(url)).text
