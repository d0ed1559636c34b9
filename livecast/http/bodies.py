"""Request bodies read within a size limit, and the JSON problem bodies of livecast's plain HTTP routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


class BodyTooLarge(Exception):
    """A request body passed its size limit (HTTP 413)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or ``BodyTooLarge`` as soon as it passes ``limit`` bytes, declared (``Content-Length``)
    or sent: nothing beyond the limit is read into memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def problem(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    """``{"code", "message", ...extra}`` with ``status``: how the plain HTTP routes (beacons, webhooks, exports)
    refuse a request."""
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status, headers=headers)
