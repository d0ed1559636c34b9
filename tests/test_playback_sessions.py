"""Playback session tokens and the checks ``Viewers.record`` makes before a beacon counts (issue #10, item 6):
a genuine token for this stream and session, not expired, renewed past half its life; a live stream (status
cached briefly); one session is one viewer. Domain level, on the test database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

import jwt
import pytest

from livecast.domain import encoder, streams
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, NotFound
from livecast.domain.models import StreamStatus
from livecast.domain.playback_sessions import InvalidSession, SessionExpired, SessionSigner
from livecast.domain.validation import StreamFields
from livecast.domain.viewers import Viewers
from tests.conftest import TEST_SECRET
from tests.helpers.beacons import Player
from tests.helpers.livekit import principal
from tests.helpers.waiting import eventually
from tests.test_viewers import Clock

STREAM, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
NOW = 1_800_000_000.0


def signer() -> SessionSigner:
    return SessionSigner(lambda: TEST_SECRET, ttl=600)


def test_a_token_is_valid_for_its_stream_and_session_until_it_expires() -> None:
    s = signer()
    session = s.issue(STREAM, now=NOW)
    assert len(session.id) == 22 and session.expires == NOW + 600
    assert s.verify(STREAM, session.id, session.token, now=NOW + 599.9) == session.expires
    with pytest.raises(SessionExpired):
        s.verify(STREAM, session.id, session.token, now=NOW + 600)
    assert s.issue(STREAM, now=NOW).id != session.id, "a new session each time"
    assert SessionSigner(lambda: TEST_SECRET, ttl=600).verify(STREAM, session.id, session.token, now=NOW), (
        "the same signing key verifies it in another process"
    )


def test_forged_altered_and_misplaced_tokens_are_refused() -> None:
    s = signer()
    session = s.issue(STREAM, now=NOW)
    expires, signature = session.token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    later = str(int(expires) + 3600)
    forged_by_other_key = SessionSigner(lambda: "another-server-key-of-at-least-32-bytes!", ttl=600).issue(
        STREAM, session.id, now=NOW
    )
    raw_key_mac = base64.urlsafe_b64encode(
        hmac.new(TEST_SECRET.encode(), f"{STREAM}\n{session.id}\n{expires}".encode(), hashlib.sha256).digest()
    ).rstrip(b"=").decode()  # fmt: skip
    access_token = jwt.encode({"sub": session.id, "exp": int(NOW) + 600}, TEST_SECRET, algorithm="HS256")
    cases = {
        "other stream": (OTHER, session.id, session.token),
        "other session": (STREAM, "another-session", session.token),
        "altered signature": (STREAM, session.id, f"{expires}.{flipped}"),
        "extended expiry": (STREAM, session.id, f"{later}.{signature}"),
        "other server's key": (STREAM, session.id, forged_by_other_key.token),
        "signing key used without the purpose derivation": (STREAM, session.id, f"{expires}.{raw_key_mac}"),
        "an access token": (STREAM, session.id, access_token),
        "empty": (STREAM, session.id, ""),
        "garbage": (STREAM, session.id, "x" * 56),
        "huge expiry": (STREAM, session.id, f"{'9' * 13}.{signature}"),
    }
    for what, (stream_id, session_id, token) in cases.items():
        with pytest.raises(InvalidSession):
            s.verify(stream_id, session_id, token, now=NOW)
            pytest.fail(what)
    expired = s.issue(STREAM, now=NOW - 601)
    with pytest.raises(InvalidSession):  # the signature is checked before the expiry
        s.verify(OTHER, expired.id, expired.token, now=NOW)


def test_renewal_is_due_past_half_the_lifetime() -> None:
    s = signer()
    session = s.issue(STREAM, now=NOW)
    assert not s.renewal_due(session.expires, now=NOW + 299)
    assert s.renewal_due(session.expires, now=NOW + 301)
    renewed = s.issue(STREAM, session.id, now=NOW + 301)
    assert renewed.id == session.id and renewed.expires == session.expires + 301
    assert s.verify(STREAM, session.id, renewed.token, now=NOW + 700) == renewed.expires


async def live_stream(deps: Deps) -> str:
    actor = await principal(f"owner-{uuid.uuid4().hex[:6]}")
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="watched"))
    await encoder.encoder_connected(deps=deps, stream_id=str(stream.id))
    await encoder.media_ready(deps=deps, stream_id=str(stream.id))
    return str(stream.id)


def viewers_of(deps: Deps, clock: Clock, **options: float) -> Viewers:
    return Viewers(deps.viewers.store, clock=clock, signer=signer(), **options)  # type: ignore[arg-type]


async def test_only_genuine_tokens_of_live_streams_count(deps: Deps) -> None:
    viewers = viewers_of(deps, Clock(time.time()))
    sid = await live_stream(deps)
    player = Player(viewers, sid)
    assert (await player.send("playing")).counts

    forged = player.beacon("playing").model_copy(update={"session_token": "1999999999." + "A" * 43})
    other = player.beacon("playing").model_copy(update={"session_id": "made-up-session"})
    for bad in (forged, other):
        with pytest.raises(InvalidSession):
            await viewers.record(bad)
    with pytest.raises(NotFound):  # a genuine token of a stream that does not exist (any more)
        await Player(viewers, str(uuid.uuid4())).send("playing")

    actor = await principal("someone")
    scheduled = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="later"))
    with pytest.raises(InvalidState) as refused:
        await Player(viewers, str(scheduled.id)).send("playing")
    assert refused.value.current_status == StreamStatus.SCHEDULED.value
    assert await viewers.concurrent(sid) == 1 and await viewers.concurrent(str(scheduled.id)) == 0
    assert [s.session_id for s in await viewers.take_sessions(sid, limit=10)] == [player.session.id]  # type: ignore[union-attr]


async def test_an_expired_token_is_refused_and_a_long_session_is_renewed(deps: Deps) -> None:
    clock = Clock(time.time())
    viewers = viewers_of(deps, clock)
    sid = await live_stream(deps)
    player = Player(viewers, sid)
    first = (await player.send("playing")).renewed
    assert first is None, "a fresh token needs no renewal"
    session = player.session
    assert session is not None
    for _ in range(62):  # five minutes and more of beacons every 5 s
        clock.advance(5)
        recorded = await player.send("playing")
        assert recorded.counts
        if recorded.renewed is not None:
            break
    assert recorded.renewed is not None, "renewed once past half the lifetime"
    assert recorded.renewed.id == session.id and recorded.renewed.expires > session.expires
    assert session.expires - clock.now < 300 <= recorded.renewed.expires - clock.now

    clock.advance(601)  # silent past the renewed token's lifetime
    stale = player.beacon("playing")
    with pytest.raises(SessionExpired):
        await viewers.record(stale)
    [written] = await viewers.take_sessions(sid, limit=10)
    assert written.session_id == session.id, "renewal kept the session (one row, not a new viewer)"


async def test_an_ended_stream_stops_accepting_beacons_within_the_status_cache_time(deps: Deps) -> None:
    viewers = viewers_of(deps, Clock(time.time()), status_ttl=0.5)
    sid = await live_stream(deps)
    player = Player(viewers, sid)
    assert (await player.send("playing")).counts
    await streams.finish(deps=deps, stream_id=sid, reason="ended by test")

    async def refused() -> bool:
        try:
            await player.send("playing")
        except InvalidState:
            return True
        return False

    started = time.monotonic()
    await eventually(refused, timeout=5, interval=0.05, what="beacons refused after the end")
    assert time.monotonic() - started < 0.5 + 0.3, "within the status cache time"
