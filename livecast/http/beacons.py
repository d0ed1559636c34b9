"""``POST /v1/playback/beacon``: players' playback beacons (README "Viewers and analytics")."""

from __future__ import annotations

import math

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from livecast.domain.client_limits import LimitUnavailable
from livecast.domain.errors import ErrorCode, InvalidState, NotFound, RateLimited
from livecast.domain.playback_sessions import InvalidSession, SessionExpired
from livecast.domain.viewer_store import StoreFull, StoreUnavailable
from livecast.domain.viewers import MAX_BEACON_BYTES, Beacon
from livecast.http.bodies import BodyTooLarge, problem, read_body

BEACON_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}
RETRY = {"Retry-After": "5"}
FULL_RETRY = {"Retry-After": "30"}
"""A full viewer store frees room as sessions end or go silent (seconds to wait)."""


async def beacon(request: Request) -> Response:
    """A player's playback beacon (JSON; ``text/plain`` too, as ``navigator.sendBeacon`` sends it), checked in
    ``Viewers.record``'s order: 204 accepted, or 200 ``{"sessionToken", "expiresAt"}`` accepted with a renewed
    session token; 429 over the client address's limit (``Retry-After``), 400 not JSON, 413 over 4 KiB,
    422 invalid (e.g. no ``sessionToken``), 403 ``SESSION_INVALID`` forged/altered/other stream or session,
    401 ``SESSION_EXPIRED``, 404 unknown stream, 409 ``INVALID_STATE`` not live, 503 ``TOO_MANY_SESSIONS``
    or ``UNAVAILABLE`` (``Retry-After``). Bodies ``{"code", "message"}``. Nothing is stored unless 2xx."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=BEACON_CORS)
    viewers = request.app.state.runtime.deps.viewers
    try:
        await viewers.admit(request.client.host if request.client else None)
    except RateLimited as e:
        wait = {"Retry-After": str(max(1, math.ceil(e.retry_after)))}
        return problem(429, e.code.value, e.message, BEACON_CORS | wait, retryAfter=e.retry_after)
    except LimitUnavailable:
        return problem(503, "UNAVAILABLE", "viewer counting is unavailable; retry later", BEACON_CORS | RETRY)
    try:
        body = await read_body(request, MAX_BEACON_BYTES)
    except BodyTooLarge:
        return problem(413, "PAYLOAD_TOO_LARGE", f"a beacon is at most {MAX_BEACON_BYTES} bytes", BEACON_CORS)
    try:
        parsed = Beacon.model_validate_json(body)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False, include_context=False)
        if any(error["type"] == "json_invalid" for error in errors):
            return problem(400, "BAD_REQUEST", "the body is not JSON", BEACON_CORS)
        return problem(422, ErrorCode.VALIDATION.value, "invalid beacon", BEACON_CORS, errors=errors)
    try:
        recorded = await viewers.record(parsed)
    except SessionExpired as e:
        return problem(401, "SESSION_EXPIRED", e.message, BEACON_CORS)
    except InvalidSession as e:
        return problem(403, "SESSION_INVALID", e.message, BEACON_CORS)
    except NotFound as e:
        return problem(404, e.code.value, e.message, BEACON_CORS)
    except InvalidState as e:
        return problem(409, e.code.value, e.message, BEACON_CORS, currentStatus=e.current_status)
    except StoreFull as e:
        return problem(503, "TOO_MANY_SESSIONS", str(e), BEACON_CORS | FULL_RETRY)
    except StoreUnavailable:
        return problem(503, "UNAVAILABLE", "viewer counting is unavailable; retry later", BEACON_CORS | RETRY)
    if recorded.renewed is not None:
        renewed = {"sessionToken": recorded.renewed.token, "expiresAt": recorded.renewed.expires_at.isoformat()}
        return JSONResponse(renewed, headers=BEACON_CORS)
    return Response(status_code=204, headers=BEACON_CORS)
