"""The Starlette application: ``/graphql`` (HTTP, GraphiQL and websockets), ``/hls/`` and ``/healthz``.

Resources (database, event bus, RTMP ingest, embedded workers) are opened in the ASGI lifespan, never at import.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from livecast.domain.auth import principal_from_header
from livecast.domain.errors import Unauthenticated
from livecast.resolvers.context import RequestContext
from livecast.runtime import Runtime, running
from livecast.schema.root import build_schema
from livecast.settings import Settings

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


class LivecastGraphQL(GraphQL):
    """Strawberry's ASGI view with livecast's typed context (caller from ``Authorization: Bearer``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(max_depth=settings.graphql_max_depth, cache_size=settings.graphql_cache_size),
            keep_alive=True,
            keep_alive_interval=settings.ws_keepalive_seconds,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RequestContext:  # type: ignore[override]
        runtime: Runtime = request.app.state.runtime
        context = RequestContext(deps=runtime.deps)
        try:
            context.principal = principal_from_header(
                request.headers.get("authorization"), key=self.settings.signing_key
            )
        except Unauthenticated as e:
            context.auth_error = e
        return context

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:  # type: ignore[override]
        """Authenticate from ``connection_init`` (``{"authorization": "Bearer <token>"}``); a bad token is
        refused with close code 4403. Without one, the HTTP upgrade's ``Authorization`` header applies."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        value = params.get("authorization") or params.get("Authorization")
        if value:
            try:
                context.principal = principal_from_header(str(value), key=self.settings.signing_key)
                context.auth_error = None
            except Unauthenticated as e:
                raise ConnectionRejectionError({"code": e.code.value, "message": e.message}) from e
        return UNSET


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

    async def hls(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        playback_id, filename = request.path_params["playback_id"], request.path_params["filename"]
        match = MEDIA_FILE.match(filename)
        if not PLAYBACK_ID.match(playback_id) or not match:
            return Response("not found", status_code=404, headers=CORS)
        path = media_root / playback_id / filename
        kind = match.group(1)
        if kind == "m3u8":  # read whole: ffmpeg replaces playlists by rename, never serve a torn one
            try:
                body = path.read_bytes()
            except FileNotFoundError:
                return Response("not found", status_code=404, headers=CORS)
            headers = {**CORS, "Cache-Control": "no-cache"}
            return Response(body, media_type=CONTENT_TYPES[kind], headers=headers)
        if not _is_file(path):
            return Response("not found", status_code=404, headers=CORS)
        headers = {**CORS, "Cache-Control": "public, max-age=3600"}
        return FileResponse(path, media_type=CONTENT_TYPES[kind], headers=headers)

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


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False
