"""Players for domain-level tests: beacons with a genuine playback session token, as ``Stream.playback.session``
hands them out (``Viewers.open_session``), sent straight to ``Viewers.record`` (no HTTP)."""

from __future__ import annotations

from livecast.domain.playback_sessions import PlaybackSession
from livecast.domain.viewers import Beacon, Recorded, Viewers


class Player:
    """One player (one session) of ``viewer`` on ``stream_id``; the session is opened on the first beacon and
    renewed as the server says."""

    def __init__(self, viewers: Viewers, stream_id: str, viewer: str = "viewer-1") -> None:
        self.viewers, self.stream_id, self.viewer = viewers, stream_id, viewer
        self.session: PlaybackSession | None = None

    def beacon(self, state: str, **extra: int) -> Beacon:
        if self.session is None:
            self.session = self.viewers.open_session(self.stream_id)
        return Beacon(
            streamId=self.stream_id, viewerId=self.viewer, sessionId=self.session.id,
            sessionToken=self.session.token, state=state, **extra,
        )  # type: ignore[arg-type]  # fmt: skip

    async def send(self, state: str, **extra: int) -> Recorded:
        recorded = await self.viewers.record(self.beacon(state, **extra))
        if recorded.renewed is not None:
            self.session = recorded.renewed
        return recorded


_players: dict[tuple[int, str, str], Player] = {}


def player(viewers: Viewers, stream_id: str, viewer: str = "viewer-1") -> Player:
    """The same :class:`Player` for the same ``viewers``, stream and viewer (one session across calls)."""
    key = (id(viewers), stream_id, viewer)
    if key not in _players:
        _players[key] = Player(viewers, stream_id, viewer)
    return _players[key]
