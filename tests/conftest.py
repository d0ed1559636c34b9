"""Shared fixtures: a migrated test database (SQLite by default, PostgreSQL when
``LIVECAST_TEST_DATABASE_URL`` is set), a live livecast server on free ports, a gql client and an encoder."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from tortoise import connections

from livecast.app import create_app
from livecast.bus import create_bus
from livecast.domain import db
from livecast.domain.auth import ensure_user, issue_token
from livecast.domain.deps import Deps
from livecast.http.server import uvicorn_config
from livecast.runtime import domain_deps
from livecast.settings import Settings
from tests.helpers.processes import PrivateRedis, free_port

TEST_SECRET = "test-secret-key-with-at-least-32-bytes-of-entropy"
pytest_plugins = ["tests.helpers.encoder", "tests.helpers.hls", "tests.helpers.providers"]


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis for tests that need one (``LIVECAST_TEST_REDIS_URL``, exported by .ci/run).

    Skipped on a developer machine without it; a failure under CI (``CI`` set), never a silent skip."""
    url = os.environ.get("LIVECAST_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must set LIVECAST_TEST_REDIS_URL (see .ci/run)")
        pytest.skip("set LIVECAST_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run the Redis tests")
    return url


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    """A redis-server of the test's own (it may stop and restart it); required in CI, skipped elsewhere
    when ``redis-server`` is not installed."""
    if PrivateRedis.binary() is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server must be installed in CI")
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(tmp_path)
    await redis.start()
    try:
        yield redis
    finally:
        await redis.kill()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh, migrated database for this test session (created and dropped for PostgreSQL)."""
    base = os.environ.get("LIVECAST_TEST_DATABASE_URL")
    if not base:
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'livecast.db'}"
        await db.migrate(url)
        yield url
        return
    import asyncpg

    server, _, _ = base.rpartition("/")
    name = f"livecast_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{server}/{name}"
        await db.migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _truncate() -> None:
    conn = connections.get("default")
    for table in (
        "webhook_events",
        "simulcast_targets",
        "broadcasts",
        "reactions",
        "moderation_log",
        "chat_bans",
        "stream_moderators",
        "chat_messages",
        "chat_rooms",
        "memberships",
        "follows",
        "stream_alerts",
        "stream_quality_metrics",
        "stream_health",
        "viewer_sessions",
        "viewer_samples",
        "streams",
        "users",
    ):
        await conn.execute_script(f'DELETE FROM "{table}"')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        http_port=free_port(),
        rtmp_port=free_port(),
        secret_key=TEST_SECRET,
        hls_segment_seconds=1.0,
        ingest_idle_timeout=5.0,
        ingest_handshake_timeout=3.0,
        lifecycle_check_seconds=0.5,
    )


@pytest.fixture
async def deps(settings: Settings) -> AsyncIterator[Deps]:
    """Domain dependencies on an open database (no server), for domain-level tests."""
    await db.open_db(settings.database_url)
    await _truncate()
    bus = create_bus("memory://")
    await bus.connect()
    try:
        yield domain_deps(settings, bus)
    finally:
        await bus.disconnect()
        await db.close_db()


@dataclass
class Server:
    settings: Settings
    app: object

    @property
    def http(self) -> str:
        return self.settings.http_base_url

    @property
    def graphql_http(self) -> str:
        return f"{self.http}/graphql"

    @property
    def graphql_ws(self) -> str:
        return self.graphql_http.replace("http://", "ws://")

    @property
    def runtime(self):
        return self.app.state.runtime  # type: ignore[attr-defined]

    async def token(self, name: str, roles: list[str] | None = None) -> str:
        user = await ensure_user(name=name, roles=roles or [])
        return issue_token(user=user, key=TEST_SECRET, ttl_seconds=3600)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    """livecast (API + RTMP ingest + workers) on free ports, inside this event loop."""
    async with run_server(settings) as running_server:
        yield running_server


@pytest.fixture(params=["http", "websocket"])
def api(request: pytest.FixtureRequest, server: Server) -> str:
    """Where a test sends its queries and mutations: over HTTP, or over a websocket (``graphql-transport-ws``
    carries queries and mutations too; the legacy ``graphql-ws`` protocol only subscriptions)."""
    return server.graphql_http if request.param == "http" else server.graphql_ws


@asynccontextmanager
async def run_server(settings: Settings, *, workers: bool = True) -> AsyncIterator[Server]:
    """Serve ``settings`` with uvicorn inside this event loop (tables emptied first); stop on exit.
    ``workers=False``: no embedded background jobs (the test runs them itself)."""
    app = create_app(settings, workers=workers)
    config = uvicorn_config(app, settings, host="127.0.0.1", log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    for _ in range(200):
        if uv.started or task.done():
            break
        await asyncio.sleep(0.05)
    if task.done():
        task.result()
    assert uv.started, "server did not start"
    await _truncate()
    try:
        yield Server(settings=settings, app=app)
    finally:
        uv.should_exit = True
        await asyncio.wait_for(task, 30)
