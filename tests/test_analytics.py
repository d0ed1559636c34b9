"""Stream analytics against a hand-computed scenario: beacons over HTTP on a simulated clock, viewer counts
run by the test at chosen moments, chat and reactions over GraphQL; ``Query.streamAnalytics`` and the CSV
export (parsed back with the csv module) must give the same figures; only the owner or an admin sees them.

Scenario (seconds after F0, a whole minute; v = viewer, s = session):

    t=0   s1(v1) playing   s2(v1) playing   s3(v2) paused    s4(v3) buffering (never plays)
    t=2   count → 1        (v1; v2 paused; v3 has not started)
    t=5   s1 playing       s2 playing (then silent)   s3 playing   s4 buffering
    t=7   count → 2
    t=10  s1 playing       s3 playing
    t=15  s1 playing
    t=20  s1 buffering
    t=22  count → 2        (v1 rebuffering briefly still counts; s3 seen at 10)
    t=25  s1 buffering (player reports 4,000 ms)
    t=30  s1 playing
    t=35  s1 ended
    t=37  count → 0        (s3 last seen 27 s ago, s1 ended)
    t=40  s3 playing (player reports 2,500 ms buffering)
    t=42  count → 1

Watch time: s1 4x5 s + 5 s = 25 s; s2 5 s; s3 5 s + min(30, 15) s = 20 s; s4 0 → 50 s (12.5 s per view).
Buffering: s1 max(10 s measured, 4 s) = 10 s; s3 2.5 s (reported); s4 5 s → 17.5 s, ratio 0.35.
Counts 1, 2, 2, 0, 1 → average 1.2, peak 2. Views 4, unique viewers 3.
Chat: 6 messages and 4 reactions in a 10-minute live window → 0.6 and 0.4 per minute.
"""

from __future__ import annotations

import csv
import io
import math
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from livecast.domain import analytics, streams, viewer_counts
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.domain.models import Stream
from livecast.domain.validation import StreamFields
from livecast.domain.viewer_models import ViewerSample, ViewerSession
from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.helpers.chat import mutate
from tests.helpers.client import gql_http, gql_http_errors
from tests.test_playback_beacons import Beacons, live_stream
from tests.test_viewers import Clock

FIGURES = """peakConcurrentViewers averageConcurrentViewers totalViews uniqueViewers totalWatchTime averageWatchTime
  bufferingRatio liveMinutes chatMessagesPerMinute reactionsPerMinute"""
ANALYTICS = f"""query($id: ID!, $interval: Int!) {{ streamAnalytics(streamId: $id) {{ streamId {FIGURES}
  viewerSeries(interval: $interval) {{ at average peak }}
  healthSeries(interval: $interval) {{ at samples videoBitrate }} }} }}"""
EXPECTED = {
    "peakConcurrentViewers": 2, "averageConcurrentViewers": 1.2, "totalViews": 4, "uniqueViewers": 3,
    "totalWatchTime": 50.0, "averageWatchTime": 12.5, "bufferingRatio": 0.35, "liveMinutes": 10.0,
    "chatMessagesPerMinute": 0.6, "reactionsPerMinute": 0.4,
}  # fmt: skip


@pytest.fixture
async def no_jobs(settings: Settings) -> AsyncIterator[Server]:
    """No embedded jobs: the test runs the viewer count itself, at simulated moments."""
    async with run_server(settings, workers=False) as server:
        yield server


async def play_scenario(server: Server, sid: str, f0: float) -> tuple[list[int], Beacons]:
    clock = Clock(start=f0)
    deps = server.runtime.deps
    deps.viewers.clock = clock
    counts: list[int] = []
    script: list[tuple[float, str, str, str, dict[str, int]] | float] = [
        (0, "v1", "s1", "playing", {}), (0, "v1", "s2", "playing", {}), (0, "v2", "s3", "paused", {}),
        (0, "v3", "s4", "buffering", {}), 2,
        (5, "v1", "s1", "playing", {}), (5, "v1", "s2", "playing", {}), (5, "v2", "s3", "playing", {}),
        (5, "v3", "s4", "buffering", {}), 7,
        (10, "v1", "s1", "playing", {}), (10, "v2", "s3", "playing", {}), (15, "v1", "s1", "playing", {}),
        (20, "v1", "s1", "buffering", {}), 22,
        (25, "v1", "s1", "buffering", {"bufferingMs": 4000}), (30, "v1", "s1", "playing", {}),
        (35, "v1", "s1", "ended", {}), 37,
        (40, "v2", "s3", "playing", {"bufferingMs": 2500}), 42,
    ]  # fmt: skip
    async with httpx.AsyncClient() as client:
        players = Beacons(server, client, sid)
        for step in script:
            if isinstance(step, int | float):
                clock.now = f0 + step
                counts.append((await viewer_counts.refresh(deps=deps)).counts[sid])
                continue
            at, viewer, session, state, extra = step
            clock.now = f0 + at
            assert (await players.send(viewer, session, state, **extra)).status_code == 204
    return counts, players


async def test_analytics_match_a_hand_computed_scenario(no_jobs: Server) -> None:
    server = no_jobs
    owner, bob = await server.token("alice"), await server.token("bob")
    admin = await server.token("root", ["admin"])
    sid = await live_stream(server)
    f0 = math.floor(time.time() / 60) * 60 - 60
    counts, players = await play_scenario(server, sid, f0)
    assert counts == [1, 2, 2, 0, 1]

    for n in range(6):
        sent = await mutate(server.graphql_http, bob, "sendChatMessage", "$s: ID!, $c: String!", "streamId: $s, content: $c",
                            {"s": sid, "c": f"message {n}"})  # fmt: skip
        assert sent["__typename"] == "ChatMessage", sent
    for _ in range(4):
        sent = await mutate(server.graphql_http, bob, "sendReaction", "$s: ID!", 'streamId: $s, emoji: "🔥", positionX: 50, positionY: 50',
                            {"s": sid})  # fmt: skip
        assert sent["__typename"] == "Reaction", sent
    await streams.finish(deps=server.runtime.deps, stream_id=sid, reason="test over")
    assert (await viewer_counts.refresh(deps=server.runtime.deps)).sessions_written == 0, "all written while live"
    now = datetime.now(UTC)
    await Stream.filter(id=sid).update(started_at=now - timedelta(minutes=5), ended_at=now + timedelta(minutes=5))

    ids = {tab: session["id"] for tab, session in players.sessions.items()}
    rows = {tab: r for r in await ViewerSession.filter(stream_id=sid) for tab in ids if ids[tab] == r.session_id}
    assert {k: (r.viewer_id, r.watch_ms, r.buffering_ms, r.state, r.ended) for k, r in rows.items()} == {
        "s1": ("v1", 25_000, 10_000, "ended", True), "s2": ("v1", 5_000, 0, "playing", False),
        "s3": ("v2", 20_000, 2_500, "playing", False), "s4": ("v3", 0, 5_000, "buffering", False),
    }  # fmt: skip
    assert rows["s1"].started_at == datetime.fromtimestamp(f0, UTC) and rows["s3"].last_seen == datetime.fromtimestamp(
        f0 + 40, UTC
    )
    assert await ViewerSample.filter(stream_id=sid).count() == 5
    stream = await Stream.get(id=sid)
    assert (stream.viewer_count, stream.peak_viewer_count) == (0, 2), "ended: back to 0"

    for token in (owner, admin):
        data = (await gql_http(server.graphql_http, ANALYTICS, {"id": sid, "interval": 5}, token))["streamAnalytics"]
        assert {k: data[k] for k in EXPECTED} == pytest.approx(EXPECTED)
        series = [
            (datetime.fromisoformat(p["at"]).timestamp() - f0, p["average"], p["peak"]) for p in data["viewerSeries"]
        ]
        assert series == [(0, 1, 1), (5, 2, 2), (20, 2, 2), (35, 0, 0), (40, 1, 1)]
        assert data["healthSeries"] == []
    minute = (await gql_http(server.graphql_http, ANALYTICS, {"id": sid, "interval": 60}, owner))["streamAnalytics"]
    assert minute["viewerSeries"] == [{"at": datetime.fromtimestamp(f0, UTC).isoformat(), "average": 1.2, "peak": 2}]

    codes = {
        "FORBIDDEN": (sid, bob, 60), "UNAUTHENTICATED": (sid, None, 60), "NOT_FOUND": (str(uuid.uuid4()), owner, 60),
        "VALIDATION": (sid, owner, 1),
    }  # fmt: skip
    for code, (stream_id, token, interval) in codes.items():
        errors = await gql_http_errors(server.graphql_http, ANALYTICS, {"id": stream_id, "interval": interval}, token)
        assert errors[0]["extensions"]["code"] == code

    await check_csv(server, sid, f0, owner, bob)


async def check_csv(server: Server, sid: str, f0: float, owner: str, bob: str) -> None:
    url = f"{server.http}/v1/streams/{sid}/analytics.csv"
    async with httpx.AsyncClient() as client:
        response = await client.get(url, params={"interval": 5}, headers={"Authorization": f"Bearer {owner}"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        figures = {r["metric"]: float(r["value"]) for r in rows if not r["at"]}
        assert figures == pytest.approx({
            "peak_concurrent_viewers": 2, "average_concurrent_viewers": 1.2, "total_views": 4, "unique_viewers": 3,
            "total_watch_seconds": 50, "average_watch_seconds": 12.5, "buffering_ratio": 0.35, "live_minutes": 10,
            "chat_messages_per_minute": 0.6, "reactions_per_minute": 0.4,
        })  # fmt: skip
        peaks = [
            (datetime.fromisoformat(r["at"]).timestamp() - f0, int(r["value"]))
            for r in rows
            if r["metric"] == "viewers_peak"
        ]
        assert peaks == [(0, 1), (5, 2), (20, 2), (35, 0), (40, 1)]

        refusals = [
            (url, {}, 401), (url, {"Authorization": "Bearer not-a-token"}, 401), (url, {"Authorization": f"Bearer {bob}"}, 403),
            (url.replace(sid, str(uuid.uuid4())), {"Authorization": f"Bearer {owner}"}, 404),
            (f"{url}?interval=abc", {"Authorization": f"Bearer {owner}"}, 422), (f"{url}?interval=1", {"Authorization": f"Bearer {owner}"}, 422),
        ]  # fmt: skip
        for target, headers, status in refusals:
            refused = await client.get(target, headers=headers)
            assert refused.status_code == status, (target, headers, refused.text)


async def test_health_series_averages_the_stored_samples_per_bucket(deps: Deps) -> None:
    from livecast.domain.health_models import StreamQualityMetric

    user = await ensure_user(name=f"owner-{uuid.uuid4().hex[:6]}", roles=[])
    actor = Principal(user_id=str(user.id), name=user.name, roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="health"))
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    for seconds, video, fps, drift in (
        (0, 1_000_000, 30.0, 100.0),
        (5, 2_000_000, 20.0, None),
        (60, 500_000, 25.0, 900.0),
    ):
        await StreamQualityMetric.create(stream_id=stream.id, sampled_at=t0 + timedelta(seconds=seconds), status="GOOD",
                                         video_bitrate=video, frame_rate=fps, drift_ms=drift)  # fmt: skip
    points = await analytics.health_series(stream_id=str(stream.id), interval=60)
    assert [(p.at, p.samples, p.video_bitrate, p.frame_rate, p.drift_ms, p.audio_bitrate) for p in points] == [
        (t0, 2, 1_500_000, 25.0, 100.0, None), (t0 + timedelta(seconds=60), 1, 500_000, 25.0, 900.0, None),
    ]  # fmt: skip
    rows = list(
        csv.DictReader(io.StringIO(await analytics.export_csv(actor=actor, stream_id=str(stream.id), interval=60)))
    )
    assert [(r["at"], float(r["value"])) for r in rows if r["metric"] == "video_bitrate"] == [
        (t0.isoformat(), 1_500_000),
        ((t0 + timedelta(seconds=60)).isoformat(), 500_000),
    ]
    assert {r["metric"]: r["value"] for r in rows if not r["at"]}["chat_messages_per_minute"] == "", "never live"


async def test_chat_series_counts_messages_and_reactions_per_bucket(no_jobs: Server) -> None:
    """Counted in SQL per bucket on either dialect: rows moved to known instants, read back per minute and per 5 s."""
    from livecast.domain.chat_models import ChatMessage, Reaction

    server = no_jobs
    owner, bob = await server.token("alice"), await server.token("bob")
    sid = await live_stream(server)
    t0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    message_at, reaction_at = (5, 30, 59.9, 61, 185), (10, 125, 126.5)
    for n, _ in enumerate(message_at):
        await mutate(
            server.graphql_http,
            bob,
            "sendChatMessage",
            "$s: ID!, $c: String!",
            "streamId: $s, content: $c",
            {"s": sid, "c": f"m{n}"},
        )
    for _ in reaction_at:
        await mutate(
            server.graphql_http,
            bob,
            "sendReaction",
            "$s: ID!",
            'streamId: $s, emoji: "🔥", positionX: 1, positionY: 1',
            {"s": sid},
        )
    messages = await ChatMessage.filter(stream_id=sid).order_by("sequence")
    reactions = await Reaction.filter(stream_id=sid).order_by("id")
    for row, seconds in [*zip(messages, message_at, strict=True), *zip(reactions, reaction_at, strict=True)]:
        await type(row).filter(id=row.id).update(created_at=t0 + timedelta(seconds=seconds))
    await mutate(server.graphql_http, bob, "deleteChatMessage", "$id: ID!", "id: $id", {"id": str(messages[0].id)})

    query = "query($id: ID!, $i: Int!) { streamAnalytics(streamId: $id) { chatSeries(interval: $i) { at messages reactions } } }"
    per_minute = (await gql_http(server.graphql_http, query, {"id": sid, "i": 60}, owner))["streamAnalytics"][
        "chatSeries"
    ]
    at = lambda s: (t0 + timedelta(seconds=s)).isoformat()  # noqa: E731
    assert per_minute == [
        {"at": at(0), "messages": 3, "reactions": 1},  # a deleted message was still posted
        {"at": at(60), "messages": 1, "reactions": 0},
        {"at": at(120), "messages": 0, "reactions": 2},
        {"at": at(180), "messages": 1, "reactions": 0},
    ]
    five = (await gql_http(server.graphql_http, query, {"id": sid, "i": 5}, owner))["streamAnalytics"]["chatSeries"]
    assert [(p["at"], p["messages"], p["reactions"]) for p in five] == [
        (at(5), 1, 0),
        (at(10), 0, 1),
        (at(30), 1, 0),
        (at(55), 1, 0),
        (at(60), 1, 0),
        (at(125), 0, 2),
        (at(185), 1, 0),
    ]
    errors = await gql_http_errors(server.graphql_http, query, {"id": sid, "i": 60}, bob)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.http}/v1/streams/{sid}/analytics.csv", params={"interval": 60},
                                    headers={"Authorization": f"Bearer {owner}"})  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["at"], int(r["value"])) for r in rows if r["metric"] == "reactions"] == [
        (at(0), 1),
        (at(60), 0),
        (at(120), 2),
        (at(180), 0),
    ]
