"""``GET /v1/streams/{id}/analytics.csv``: a stream's analytics as CSV, for its owner or an admin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from livecast.domain import analytics
from livecast.domain.auth import Authenticator
from livecast.domain.errors import DomainError, ErrorCode
from livecast.http.bodies import problem

HTTP_STATUS = {ErrorCode.UNAUTHENTICATED: 401, ErrorCode.FORBIDDEN: 403, ErrorCode.NOT_FOUND: 404}
"""HTTP status of a domain error (anything else: 422)."""


def analytics_endpoint(authenticator: Authenticator) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint; the caller comes from ``Authorization: Bearer`` through ``authenticator``."""

    async def analytics_csv(request: Request) -> Response:
        """``GET /v1/streams/{id}/analytics.csv[?interval=60]`` with ``Authorization: Bearer``: owner or admin."""
        stream_id = request.path_params["stream_id"]
        try:
            interval = int(request.query_params.get("interval", "60"))
        except ValueError:
            return problem(422, ErrorCode.VALIDATION.value, "interval must be a whole number of seconds")
        try:
            actor = await authenticator.from_header(request.headers.get("authorization"))
            body = await analytics.export_csv(actor=actor, stream_id=stream_id, interval=interval)
        except DomainError as e:
            status = HTTP_STATUS.get(e.code, 422)
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return problem(status, e.code.value, e.message, headers)
        disposition = f'attachment; filename="stream-{stream_id}-analytics.csv"'
        return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})

    return analytics_csv
