"""The Starlette application: ``/graphql`` (HTTP, GraphiQL and websockets), ``/hls/`` and ``/healthz``.

Resources (database, event bus, RTMP ingest, embedded workers) are opened in the ASGI lifespan, never at import.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from livecast.domain import analytics
from livecast.domain.auth import Authenticator
from livecast.domain.client_limits import LimitUnavailable
from livecast.domain.errors import DomainError, ErrorCode, Forbidden, InvalidState, NotFound, RateLimited
from livecast.domain.playback import PlaybackGate
from livecast.domain.playback_sessions import InvalidSession, SessionExpired
from livecast.domain.viewer_store import StoreFull, StoreUnavailable
from livecast.domain.viewers import BEACON_PATH, MAX_BEACON_BYTES, Beacon
from livecast.http.graphql_view import GraphQLView
from livecast.resolvers.context import RequestContext
from livecast.runtime import Runtime, running
from livecast.schema.limits import QueryLimits
from livecast.schema.root import build_schema
from livecast.settings import Settings
from livecast.webhook_routes import webhook_endpoint

PLAYBACK_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
MEDIA_FILE = re.compile(r"^[A-Za-z0-9_.-]{1,80}\.(m3u8|ts|m4s|mp4)$")
CONTENT_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",  # RFC 8216 section 4
    "ts": "video/mp2t",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
}
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range",
}

BEACON_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}
RETRY = {"Retry-After": "5"}
FULL_RETRY = {"Retry-After": "30"}
"""A full viewer store frees room as sessions end or go silent (seconds to wait)."""
HTTP_STATUS = {ErrorCode.UNAUTHENTICATED: 401, ErrorCode.FORBIDDEN: 403, ErrorCode.NOT_FOUND: 404}
"""HTTP status of a domain error on the plain HTTP routes (anything else: 422)."""


class BodyTooLarge(Exception):
    """A request body passed its size limit (HTTP 413)."""


class LivecastGraphQL(GraphQLView):
    """The ``/graphql`` view (bounded: :mod:`livecast.http.graphql_view`) with livecast's typed context
    (caller from ``Authorization: Bearer``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(query_limits(settings)),
            max_body_bytes=settings.graphql_max_body_bytes,
            graphql_ide="graphiql" if settings.development_default(settings.graphiql) else None,
            keep_alive=True,
            keep_alive_interval=settings.ws_keepalive_seconds,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings
        self.authenticator = Authenticator(
            key=lambda: settings.signing_key, cache_seconds=settings.auth_cache_seconds
        )  # per process: users' rows are re-read at most every LIVECAST_AUTH_CACHE_SECONDS

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RequestContext:  # type: ignore[override]
        runtime: Runtime = request.app.state.runtime
        context = RequestContext(deps=runtime.deps)
        authorization = request.headers.get("authorization")
        await context.sign_in(self.authenticator, authorization, long_lived=isinstance(request, WebSocket))
        return context

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:  # type: ignore[override]
        """Authenticate from ``connection_init`` (``{"authorization": "Bearer <token>"}``); a bad token is
        refused with close code 4403. Without one, the HTTP upgrade's ``Authorization`` header applies."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        value = params.get("authorization") or params.get("Authorization")
        if value:
            await context.sign_in(self.authenticator, str(value), long_lived=True)
            if context.auth_error is not None:
                code = ErrorCode.UNAUTHENTICATED.value
                raise ConnectionRejectionError({"code": code, "message": context.auth_error})
        return UNSET


def query_limits(settings: Settings) -> QueryLimits:
    """The per-document GraphQL limits of ``settings`` (introspection and suggestions off in production)."""
    return QueryLimits(
        max_tokens=settings.graphql_max_tokens,
        max_chars=settings.graphql_max_chars,
        max_aliases=settings.graphql_max_aliases,
        max_depth=settings.graphql_max_depth,
        max_cost=settings.graphql_max_cost,
        max_merge_work=settings.graphql_max_merge_work,
        list_size=settings.graphql_list_size,
        validation_seconds=settings.graphql_validation_seconds,
        cache_chars=settings.graphql_cache_chars,
        introspection=settings.development_default(settings.graphql_introspection),
        suggestions=settings.development_default(settings.graphql_suggestions),
    )


def create_app(settings: Settings, *, ingest: bool | None = None, workers: bool = True) -> Starlette:
    """The ASGI app. ``ingest`` defaults to ``settings.embedded_ingest``."""
    run_ingest = settings.embedded_ingest if ingest is None else ingest

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(settings, ingest=run_ingest, workers=workers) as runtime:
            app.state.runtime = runtime
            yield

    graphql = LivecastGraphQL(settings)
    media_root = settings.hls_dir.resolve()
    gate = PlaybackGate(lambda: settings.signing_key)  # SIGNED streams: ?token= on every playlist and segment

    async def hls(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        playback_id, filename = request.path_params["playback_id"], request.path_params["filename"]
        match = MEDIA_FILE.match(filename)
        if not PLAYBACK_ID.match(playback_id) or not match:
            return Response("not found", status_code=404, headers=CORS)
        try:
            access = await gate.check(playback_id, request.query_params.get("token"))
        except Forbidden as e:
            return Response(e.message, status_code=403, headers=CORS)
        path = _inside(media_root, media_root / playback_id / filename)
        if path is None:
            return Response("not found", status_code=404, headers=CORS)
        kind = match.group(1)
        if kind == "m3u8":  # read whole: ffmpeg replaces playlists by rename, never serve a torn one
            try:
                body = access.playlist(path.read_bytes())  # signed: the token added to its segment URIs
            except FileNotFoundError:
                return Response("not found", status_code=404, headers=CORS)
            headers = {**CORS, "Cache-Control": "private, no-cache" if access.signed else "no-cache"}
            return Response(body, media_type=CONTENT_TYPES[kind], headers=headers)
        if not _is_file(path):
            return Response("not found", status_code=404, headers=CORS)
        headers = {**CORS, "Cache-Control": "private, max-age=3600" if access.signed else "public, max-age=3600"}
        return FileResponse(path, media_type=CONTENT_TYPES[kind], headers=headers)

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
            return _problem(429, e.code.value, e.message, BEACON_CORS | wait, retryAfter=e.retry_after)
        except LimitUnavailable:
            return _problem(503, "UNAVAILABLE", "viewer counting is unavailable; retry later", BEACON_CORS | RETRY)
        try:
            body = await _read_body(request, MAX_BEACON_BYTES)
        except BodyTooLarge:
            return _problem(413, "PAYLOAD_TOO_LARGE", f"a beacon is at most {MAX_BEACON_BYTES} bytes", BEACON_CORS)
        try:
            parsed = Beacon.model_validate_json(body)
        except ValidationError as e:
            errors = e.errors(include_url=False, include_input=False, include_context=False)
            if any(error["type"] == "json_invalid" for error in errors):
                return _problem(400, "BAD_REQUEST", "the body is not JSON", BEACON_CORS)
            return _problem(422, ErrorCode.VALIDATION.value, "invalid beacon", BEACON_CORS, errors=errors)
        try:
            recorded = await viewers.record(parsed)
        except SessionExpired as e:
            return _problem(401, "SESSION_EXPIRED", e.message, BEACON_CORS)
        except InvalidSession as e:
            return _problem(403, "SESSION_INVALID", e.message, BEACON_CORS)
        except NotFound as e:
            return _problem(404, e.code.value, e.message, BEACON_CORS)
        except InvalidState as e:
            return _problem(409, e.code.value, e.message, BEACON_CORS, currentStatus=e.current_status)
        except StoreFull as e:
            return _problem(503, "TOO_MANY_SESSIONS", str(e), BEACON_CORS | FULL_RETRY)
        except StoreUnavailable:
            return _problem(503, "UNAVAILABLE", "viewer counting is unavailable; retry later", BEACON_CORS | RETRY)
        if recorded.renewed is not None:
            renewed = {"sessionToken": recorded.renewed.token, "expiresAt": recorded.renewed.expires_at.isoformat()}
            return JSONResponse(renewed, headers=BEACON_CORS)
        return Response(status_code=204, headers=BEACON_CORS)

    async def analytics_csv(request: Request) -> Response:
        """``GET /v1/streams/{id}/analytics.csv[?interval=60]`` with ``Authorization: Bearer``: owner or admin."""
        stream_id = request.path_params["stream_id"]
        try:
            interval = int(request.query_params.get("interval", "60"))
        except ValueError:
            return _problem(422, ErrorCode.VALIDATION.value, "interval must be a whole number of seconds")
        try:
            actor = await graphql.authenticator.from_header(request.headers.get("authorization"))
            body = await analytics.export_csv(actor=actor, stream_id=stream_id, interval=interval)
        except DomainError as e:
            status = HTTP_STATUS.get(e.code, 422)
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return _problem(status, e.code.value, e.message, headers)
        disposition = f'attachment; filename="stream-{stream_id}-analytics.csv"'
        return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def index(request: Request) -> Response:
        return RedirectResponse("/graphql")

    routes = [
        Route("/", index),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/hls/{playback_id}/{filename}", hls, methods=["GET", "HEAD", "OPTIONS"]),
        Route("/healthz", healthz),
        Route(BEACON_PATH, beacon, methods=["POST", "OPTIONS"]),
        Route("/v1/streams/{stream_id}/analytics.csv", analytics_csv, methods=["GET"]),
        Route("/webhooks/{provider}", webhook_endpoint(settings), methods=["POST"]),  # mux, livekit
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "HEAD", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Range"],
            max_age=600,
        )
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, or ``BodyTooLarge`` as soon as it passes ``limit`` bytes (declared or sent)."""
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


def _problem(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object) -> Response:
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status, headers=headers)


def _inside(root: Path, path: Path) -> Path | None:
    """``path`` with symlinks resolved, or ``None`` when that leaves ``root`` (itself resolved): ``/hls/`` never
    serves a file outside the media directory, whatever links are in it."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return resolved if resolved.is_relative_to(root) else None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False
