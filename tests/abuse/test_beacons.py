"""Attack 6: playback beacons that fake or flood viewer numbers (``POST /v1/playback/beacon``).

Anyone can POST a beacon. Only a beacon with a genuine playback session token (``Stream.playback.session``) for a
``LIVE``/``RECONNECTING`` stream counts, one session is one viewer, one address is rate-limited, and the viewer
store is bounded. Streams are made live the way the ingest does it (the domain's encoder commands, here from
the test process on the shared database), so no encoder competes for the two cores; the target reads the status
from the database like any other process of a distributed deployment.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from livecast.bus import create_bus
from livecast.domain import encoder, streams
from livecast.domain.deps import Deps
from livecast.domain.viewer_models import ViewerSample, ViewerSession
from livecast.providers.registry import ProviderRegistry
from livecast.settings import Settings
from tests.abuse.conftest import DEADLINE, Target, assert_refused, start_target
from tests.helpers.waiting import eventually

CREATE = """mutation { createStream(input: {title: "attacked"}) { __typename ... on Stream { id } ... on Error { message } } }"""
SESSION = "query($id: ID!) { stream(id: $id) { viewerCount playback { session { id token } } } }"
QUICK = {"viewer_count_seconds": "0.5", "viewer_flush_seconds": "0.5"}
"""Viewer counts (and session writes) every 0.5 s, so the test sees what the attack counted."""


@asynccontextmanager
async def lifecycle(database_url: str) -> AsyncIterator[Deps]:
    """Domain dependencies in the test process (memory bus) to drive streams' lifecycle, as the ingest does."""
    bus = create_bus("memory://")
    await bus.connect()
    try:
        yield Deps(bus=bus, providers=ProviderRegistry(Settings(database_url=database_url)))
    finally:
        await bus.disconnect()


async def new_stream(target: Target) -> str:
    status, body = await target.graphql(CREATE, token=await target.token("victim"))
    assert status == 200 and body["data"]["createStream"]["__typename"] == "Stream", body
    return body["data"]["createStream"]["id"]


async def live_stream(target: Target, database_url: str) -> str:
    sid = await new_stream(target)
    async with lifecycle(database_url) as deps:
        await encoder.encoder_connected(deps=deps, stream_id=sid)
        await encoder.media_ready(deps=deps, stream_id=sid)
    return sid


async def open_session(target: Target, stream_id: str) -> dict[str, str]:
    status, body = await target.graphql(SESSION, {"id": stream_id})
    assert status == 200 and not body.get("errors"), body
    return body["data"]["stream"]["playback"]["session"]


def beacon(stream_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "streamId": stream_id,
        "viewerId": uuid.uuid4().hex,
        "sessionId": uuid.uuid4().hex,
        "state": "playing",
    } | fields


async def flood(
    target: Target, bodies: list[dict[str, Any]], check: Callable[[httpx.Response, float], None], concurrency: int = 4
) -> list[httpx.Response]:
    """POST every body (``concurrency`` at a time, like many players); ``check(response, seconds)`` each answer."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    answers: list[httpx.Response] = []
    url = f"{target.http}/v1/playback/beacon"
    async with httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.monotonic()
                response = await client.post(url, json=body)
                check(response, time.monotonic() - started)
                answers.append(response)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


async def counted_after(stream_id: str, moment: float, runs: int = 2) -> list[ViewerSample]:
    """The target's viewer samples of the stream taken after ``moment`` (Unix s), once ``runs`` of them exist:
    the periodic count (and session write) has run since."""

    async def samples() -> list[ViewerSample]:
        found = await ViewerSample.filter(stream_id=stream_id).order_by("at")
        later = [s for s in found if s.at.timestamp() > moment]
        return later if len(later) >= runs else []

    return await eventually(samples, timeout=15, what=f"{runs} viewer counts after the attack")


def refused(*statuses: int) -> Callable[[httpx.Response, float], None]:
    return lambda response, elapsed: assert_refused(response, elapsed, status=statuses)


def timed(response: httpx.Response, elapsed: float) -> None:
    assert elapsed < DEADLINE, f"answered after {elapsed:.2f} s"


def tally(answers: list[httpx.Response]) -> dict[int, int]:
    return dict(Counter(a.status_code for a in answers))


async def test_beacons_without_a_genuine_session_token_count_nothing(abuse_db: str, tmp_path: Path) -> None:
    """2,000 beacons with made-up viewer and session ids, half without a token and half with a well-formed one
    under a made-up signature; then forgeries of a genuine token (another session's, an extended expiry)."""
    async with start_target(abuse_db, tmp_path, beacon_rate_limit="100000/minute", **QUICK) as target:
        sid = await live_stream(target, abuse_db)
        bodies = [beacon(sid) for _ in range(1000)]
        bodies += [
            beacon(sid, sessionToken=f"{int(time.time()) + 600}.{secrets.token_urlsafe(32)}") for _ in range(1000)
        ]
        async with target.attack(requests=len(bodies)):
            answers = await flood(target, bodies, timed)
        samples = await counted_after(sid, time.time())
        counted = [s.count for s in samples]
        assert tally(answers) == {422: 1000, 403: 1000}, f"answers {tally(answers)}; viewers counted {counted}"
        assert {a.json()["code"] for a in answers if a.status_code == 403} == {"SESSION_INVALID"}
        assert counted == [0] * len(samples), "no viewer was counted"
        assert await ViewerSession.filter(stream_id=sid).count() == 0, "no session was stored"

        genuine = await open_session(target, sid)
        expires, signature = genuine["token"].split(".")
        other = await live_stream(target, abuse_db)
        forged = [
            beacon(sid, sessionToken=genuine["token"]),  # another session's token
            beacon(sid, sessionId=genuine["id"], sessionToken=f"{int(expires) + 3600}.{signature}"),  # extended
            beacon(other, sessionId=genuine["id"], sessionToken=genuine["token"]),  # another stream's
        ]
        async with target.attack(requests=300):
            await flood(target, forged * 100, refused(403))
        assert await ViewerSession.filter(stream_id__in=[sid, other]).count() == 0


async def test_one_session_token_is_one_viewer_whatever_viewer_ids_it_claims(abuse_db: str, tmp_path: Path) -> None:
    async with start_target(abuse_db, tmp_path, beacon_rate_limit="100000/minute", **QUICK) as target:
        sid = await live_stream(target, abuse_db)
        session = await open_session(target, sid)
        bodies = [beacon(sid, sessionId=session["id"], sessionToken=session["token"]) for _ in range(500)]

        def accepted(response: httpx.Response, elapsed: float) -> None:
            assert response.status_code == 204 and elapsed < 1.0, (response.status_code, elapsed)

        async with target.attack(requests=len(bodies)):
            await flood(target, bodies, accepted)
        samples = await counted_after(sid, time.time())
        assert {s.count for s in samples} == {1}, "500 viewer ids on one session: one viewer"
        assert await ViewerSession.filter(stream_id=sid).count() == 1


async def test_beacons_for_streams_that_are_not_live_are_refused(target: Target, abuse_db: str) -> None:
    scheduled = await new_stream(target)
    ended = await live_stream(target, abuse_db)
    async with lifecycle(abuse_db) as deps:
        await streams.finish(deps=deps, stream_id=ended, reason="over")
    made_up = [
        beacon(sid, sessionToken=f"{int(time.time()) + 600}.{secrets.token_urlsafe(32)}")
        for sid in (scheduled, ended)
        for _ in range(50)
    ]
    async with target.attack(requests=len(made_up)):
        answers = await flood(target, made_up, timed)
    assert tally(answers) == {403: 100}, tally(answers)

    sessions = {sid: await open_session(target, sid) for sid in (scheduled, ended)}  # genuine sessions, not live
    genuine = [
        beacon(sid, sessionId=s["id"], sessionToken=s["token"]) for sid, s in sessions.items() for _ in range(100)
    ]
    async with target.attack(requests=len(genuine)):
        answers = await flood(target, genuine, refused(409))
    assert {a.json()["currentStatus"] for a in answers} == {"SCHEDULED", "ENDED"}
    assert await ViewerSession.filter(stream_id__in=[scheduled, ended]).count() == 0


async def test_a_full_viewer_store_refuses_new_sessions_and_keeps_the_others(abuse_db: str, tmp_path: Path) -> None:
    caps = {"viewer_sessions_per_stream": "50", "viewer_sessions_max": "80", "beacon_rate_limit": "100000/minute"}
    async with start_target(abuse_db, tmp_path, **caps) as target:
        a, b = await live_stream(target, abuse_db), await live_stream(target, abuse_db)
        sessions = {sid: [await open_session(target, sid) for _ in range(60)] for sid in (a, b)}
        bodies = {
            sid: [beacon(sid, sessionId=s["id"], sessionToken=s["token"]) for s in found]
            for sid, found in sessions.items()
        }
        statuses: list[int] = []

        def answered(response: httpx.Response, elapsed: float) -> None:
            assert response.status_code in (204, 503) and elapsed < 1.0, (response.status_code, elapsed)
            if response.status_code == 503:
                assert response.json()["code"] == "TOO_MANY_SESSIONS" and response.headers["retry-after"] == "30"
            statuses.append(response.status_code)

        async with target.attack(requests=120):
            await flood(target, bodies[a], answered, concurrency=1)
            assert statuses.count(204) == 50 and statuses.count(503) == 10, "50 per stream"
            await flood(target, bodies[b], answered, concurrency=1)
            assert statuses.count(204) == 80, "80 in all"
            kept = await flood(target, bodies[a][:50] + bodies[b][:30], answered, concurrency=4)
        assert {r.status_code for r in kept} == {204}, "sessions already in keep working"


async def test_one_address_flooding_gets_429(abuse_db: str, tmp_path: Path) -> None:
    """1,000 beacons in a burst from one address (made-up ids; the limit is counted before the body is read)
    against a limit of 200 per minute: at most 400 pass it even if a window ends during the burst."""
    async with start_target(abuse_db, tmp_path, beacon_rate_limit="200/minute") as target:
        sid = await live_stream(target, abuse_db)
        async with target.attack(requests=1000):
            answers = await flood(target, [beacon(sid) for _ in range(1000)], timed)
        statuses = tally(answers)
        assert statuses.get(429, 0) >= 600 and all(400 <= status < 500 for status in statuses), statuses
        limited = [a for a in answers if a.status_code == 429]
        assert {a.json()["code"] for a in limited} == {"RATE_LIMITED"}
        assert all(1 <= int(a.headers["retry-after"]) <= 60 for a in limited)
