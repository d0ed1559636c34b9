"""The Starlette application: ``/graphql`` (HTTP, GraphiQL and websockets), ``/hls/``, beacons, webhooks, the
analytics export and ``/healthz``; each route group is a module of :mod:`livecast.http`.

Resources (database, event bus, RTMP ingest, embedded workers) are opened in the ASGI lifespan, never at import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from livecast.domain.auth import Authenticator
from livecast.domain.errors import ErrorCode
from livecast.domain.viewers import BEACON_PATH
from livecast.http.analytics import analytics_endpoint
from livecast.http.beacons import beacon
from livecast.http.graphql_view import GraphQLView
from livecast.http.hls import hls_endpoint
from livecast.http.webhooks import webhook_endpoint
from livecast.resolvers.context import RequestContext
from livecast.runtime import Runtime, running
from livecast.schema.limits import QueryLimits
from livecast.schema.root import build_schema
from livecast.settings import Settings


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

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def index(request: Request) -> Response:
        return RedirectResponse("/graphql")

    routes = [
        Route("/", index),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route(
            "/hls/{playback_id}/{filename}",
            hls_endpoint(
                settings.hls_dir,
                lambda: settings.signing_key,
                segment_seconds=settings.hls_segment_seconds,
                ffmpeg=settings.ffmpeg_path,
            ),
            methods=["GET", "HEAD", "OPTIONS"],
        ),
        Route("/healthz", healthz),
        Route(BEACON_PATH, beacon, methods=["POST", "OPTIONS"]),
        Route("/v1/streams/{stream_id}/analytics.csv", analytics_endpoint(graphql.authenticator), methods=["GET"]),
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
