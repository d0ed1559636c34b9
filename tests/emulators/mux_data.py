"""Mux Data / stats.mux.com routes of the Mux emulator (real-time viewers, live stream health).

Mounted by :class:`tests.emulators.mux.MuxEmulator` next to the Video API, answering the real paths and shapes:

* ``GET /data/v1/monitoring/metrics/{metric}/breakdown?dimension=...&filters[]=live_stream_id:<id>`` (Mux Data
  "Get Monitoring Breakdown"; HTTP Basic with the emulator's access token, 401 otherwise; 400
  ``invalid_parameters`` for an unknown metric or dimension). One row per dimension value with
  ``concurrent_viewers``; ``{"data": [], "total_row_count": 0, "timeframe": [t, t]}`` when nobody watches.
* ``GET /live-stream-health?token=<JWT>`` (stats.mux.com "live stream health stats"): the JWT must be RS256,
  signed by a signing key the emulator minted (header ``kid``), ``aud`` = ``live_stream_id``, not expired
  (401 otherwise). Answers ``{"data": [{"ingest_health": {...}}]}``; ``status`` ``unknown`` unless the live stream
  is ``active``, ``{"data": []}`` for an id the account does not have.

Tests drive the values through ``emulator.data`` (:class:`MuxData`): :meth:`MuxData.set_viewers`,
:meth:`MuxData.set_health`, and :meth:`MuxData.fail` to make these routes (only) answer an HTTP error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

METRICS = (
    "current-concurrent-viewers", "current-rebuffering-percentage", "exits-before-video-start",
    "playback-failure-percentage", "current-average-bitrate", "video-startup-failure-percentage",
)  # fmt: skip
DIMENSIONS = (
    "asn", "cdn", "country", "operating_system", "player_name", "region", "stream_type", "sub_property_id",
    "video_series", "video_title", "view_has_ad",
)  # fmt: skip
"""Mux's documented monitoring metric ids and breakdown dimensions."""


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "messages": [message]}}, status_code=status)


def mux_status(deviation_ms: float) -> str:
    """Mux's documented rule: ``excellent`` <= 500 ms, ``good`` <= 1 s, ``poor`` above."""
    deviation = abs(deviation_ms)
    return "excellent" if deviation <= 500 else "good" if deviation <= 1000 else "poor"


@dataclass
class MuxData:
    """What Mux Data and the stats API know, per live stream id, set by tests."""

    viewers: dict[str, dict[str, int]] = field(default_factory=dict)
    """Live stream id → breakdown value (e.g. ``live``) → concurrent viewers."""
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Live stream id → ``ingest_health`` fields while active."""
    failing: int | None = None
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Every authorized request: ``(path, query as a dict of lists)``."""

    def set_viewers(self, live_stream_id: str, count: int | dict[str, int]) -> None:
        """CCV of a live stream (one ``live`` row), or per breakdown value (several rows)."""
        self.viewers[live_stream_id] = {"live": count} if isinstance(count, int) else dict(count)

    def set_health(
        self, live_stream_id: str, *, session_avg_ms: float, deviation_ms: float, status: str | None = None
    ) -> None:
        """The health Mux reports while the stream is active (``status`` from Mux's rule unless given)."""
        self.health[live_stream_id] = {
            "stream_drift_session_avg": session_avg_ms,
            "stream_drift_deviation_from_rolling_avg": deviation_ms,
            "status": status or mux_status(deviation_ms),
        }

    def fail(self, status: int | None = 503) -> None:
        """From now on the Data and stats routes answer ``status`` (``None``: answer normally again)."""
        self.failing = status


def data_routes(emulator: Any) -> list[BaseRoute]:
    """The routes, bound to ``emulator`` (which gets a ``data`` attribute: :class:`MuxData`)."""
    data = emulator.data = MuxData()

    def failure() -> Response | None:
        if data.failing is None:
            return None
        return _error(data.failing, "server_error" if data.failing >= 500 else "error", f"injected ({data.failing})")

    async def breakdown(request: Request) -> Response:
        if not emulator._authorized(request.headers.get("authorization", "")):
            return _error(401, "unauthorized", "Unauthorized request")
        if (failed := failure()) is not None:
            return failed
        query = {key: request.query_params.getlist(key) for key in request.query_params}
        data.requests.append((request.url.path, query))
        metric = request.path_params["metric"]
        dimension = request.query_params.get("dimension", "")
        if metric not in METRICS:
            return _error(400, "invalid_parameters", f"{metric} is not a valid monitoring metric")
        if dimension not in DIMENSIONS:
            return _error(400, "invalid_parameters", f"dimension {dimension!r} is not a valid monitoring dimension")
        wanted: set[str] | None = None
        for condition in request.query_params.getlist("filters[]"):
            name, _, value = condition.partition(":")
            if name == "live_stream_id":
                wanted = {value} if wanted is None else wanted & {value}
        totals: dict[str, int] = {}
        for stream_id, rows in data.viewers.items():
            if wanted is None or stream_id in wanted:
                for value, count in rows.items():
                    totals[value] = totals.get(value, 0) + count
        now = int(time.time())
        rows_out = [
            {"value": value, "concurrent_viewers": count, "starting_up_viewers": 0, "negative_impact": 0,
             "metric_value": float(count), "display_value": value}
            for value, count in sorted(totals.items(), key=lambda item: -item[1]) if count > 0
        ]  # fmt: skip
        if metric != "current-concurrent-viewers":
            for row in rows_out:
                row["metric_value"] = 0.0
        return JSONResponse({"data": rows_out, "total_row_count": len(rows_out), "timeframe": [now, now]})

    async def live_stream_health(request: Request) -> Response:
        token = request.query_params.get("token", "")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            public = emulator.signing_keys.get(kid) if isinstance(kid, str) else None
            if public is None:
                return _error(401, "unauthorized", "unknown signing key")
            claims = jwt.decode(
                token, public, algorithms=["RS256"], audience="live_stream_id",
                options={"require": ["exp", "sub", "aud"]},
            )  # fmt: skip
        except jwt.PyJWTError as e:
            return _error(401, "unauthorized", f"invalid token: {e}")
        if (failed := failure()) is not None:
            return failed
        data.requests.append((request.url.path, {"sub": [claims["sub"]]}))
        stream = emulator.live_streams.get(claims["sub"])
        if stream is None:
            return JSONResponse({"data": []})
        updated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if stream.get("status") != "active":
            health: dict[str, Any] = {
                "stream_drift_session_avg": None, "stream_drift_deviation_from_rolling_avg": None, "status": "unknown",
            }  # fmt: skip
        else:
            health = data.health.get(claims["sub"]) or {
                "stream_drift_session_avg": 120, "stream_drift_deviation_from_rolling_avg": 0, "status": "excellent",
            }  # fmt: skip
        return JSONResponse({"data": [{"ingest_health": {"updated_at": updated, **health}}]})

    return [
        Route("/data/v1/monitoring/metrics/{metric}/breakdown", breakdown, methods=["GET"]),
        Route("/live-stream-health", live_stream_health, methods=["GET"]),
    ]
