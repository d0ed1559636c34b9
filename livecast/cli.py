"""The ``livecast`` command line (Typer): serve, ingest, worker, migrate, token create/revoke, makemigrations,
export-schema."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from livecast.settings import Settings, load_settings

T = TypeVar("T")

app = typer.Typer(help="livecast: live-streaming control plane.", no_args_is_help=True, add_completion=False)
SQL_LOGGERS = ("tortoise.db_client", "aiosqlite", "asyncpg")
"""Database drivers' loggers: kept at INFO or above (``aiosqlite`` logs each call with its SQL and values)."""
token_app = typer.Typer(help="Access tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _settings() -> Settings:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in SQL_LOGGERS:  # their DEBUG lines carry SQL parameters (stream keys), at any log level
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
    if settings.log_level.upper() == "INFO":  # taskiq logs every job run at INFO; livecast's journal keeps them
        logging.getLogger("taskiq.receiver").setLevel(logging.WARNING)
    return settings


@app.command()
def serve(
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")] = True,
) -> None:
    """Run the API (HTTP + websockets), the RTMP ingest and the embedded workers in one process."""
    import uvicorn

    from livecast.app import create_app
    from livecast.domain import db
    from livecast.http.server import uvicorn_config

    settings = _settings()
    if migrate_first:
        asyncio.run(db.migrate(settings.database_url))
    settings.signing_key  # noqa: B018 - fail fast (production without a key) and create the dev key once
    typer.echo(f"livecast: GraphQL/GraphiQL at {settings.http_base_url}/graphql")
    if settings.embedded_ingest:
        typer.echo(f"livecast: RTMP ingest at {settings.rtmp_base_url} (OBS Server; Stream Key from the stream)")
    gc.set_threshold(settings.gc_threshold0, 20, 10)  # fewer full collections (see Settings.gc_threshold0)
    uvicorn.Server(uvicorn_config(create_app(settings), settings)).run()


@app.command()
def ingest() -> None:
    """Run only the RTMP ingest (distributed mode): encoders publish here, HLS goes to LIVECAST_MEDIA_DIR.

    Share the database, the Redis bus (LIVECAST_BUS_URL) and the media directory with the API processes, which
    then run with LIVECAST_EMBEDDED_INGEST=false and serve the HLS files. Stops on SIGINT/SIGTERM.
    """
    from livecast.runtime import serve_ingest

    settings = _settings()
    typer.echo(f"livecast: RTMP ingest at {settings.rtmp_base_url} (OBS Server; Stream Key from the stream)")
    asyncio.run(serve_ingest(settings))


@app.command()
def worker() -> None:
    """Run the background jobs (distributed mode): reminders, auto-cancel, max duration, and any queued job.

    Needs LIVECAST_JOBS_URL=redis://... (shared by all workers) and the database and bus of the API processes.
    Run as many as you like: each periodic job runs once per period across all of them. Stops on SIGINT/SIGTERM.
    """
    from livecast.runtime import serve_worker
    from livecast.settings import ConfigurationError

    settings = _settings()
    try:
        asyncio.run(serve_worker(settings))
    except ConfigurationError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


@app.command()
def migrate() -> None:
    """Apply pending database migrations (aerich) for LIVECAST_DATABASE_URL."""
    from livecast.domain import db

    settings = _settings()
    applied = asyncio.run(db.migrate(settings.database_url))
    typer.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))


@app.command()
def makemigrations(name: Annotated[str, typer.Argument(help="Short name, e.g. add_chat.")]) -> None:
    """Developers: generate a migration from the models for the dialect of LIVECAST_DATABASE_URL."""
    from livecast.domain import db

    settings = _settings()
    typer.echo(str(asyncio.run(db.make_migrations(name, settings.database_url))))


@app.command("export-schema")
def export_schema(path: Annotated[Path, typer.Argument()] = Path("schema.graphql")) -> None:
    """Write the GraphQL SDL (kept in the repository as schema.graphql)."""
    from livecast.schema.root import build_schema

    path.write_text(build_schema().as_str() + "\n", encoding="utf-8")
    typer.echo(f"wrote {path}")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="User name; created if missing.")],
    role: Annotated[list[str] | None, typer.Option("--role", help="Role to grant, e.g. admin.")] = None,
    ttl: Annotated[
        int | None, typer.Option("--ttl", min=1, help="Lifetime in seconds (default LIVECAST_TOKEN_TTL_SECONDS, 24 h).")
    ] = None,
) -> None:
    """Print an access token for USER (send it as 'Authorization: Bearer <token>')."""
    from livecast.domain import auth

    settings = _settings()
    lifetime = ttl or settings.token_ttl_seconds
    typer.echo(
        _with_db(
            settings,
            lambda: auth.create_token(name=user, roles=role or [], key=settings.signing_key, ttl_seconds=lifetime),
        )
    )


@token_app.command("revoke")
def token_revoke(user: Annotated[str, typer.Option("--user", help="User name.")]) -> None:
    """Revoke every token issued to USER so far (new ones work). Takes effect within
    LIVECAST_AUTH_CACHE_SECONDS (default 5 s) on every API process."""
    from livecast.domain import auth

    settings = _settings()
    version = _with_db(settings, lambda: auth.revoke_tokens(name=user))
    typer.echo(f"revoked all tokens of {user.strip()} (token version is now {version})")


def _with_db(settings: Settings, call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call`` on the migrated, open database; a ``DomainError`` exits with code 2 and its message."""
    from livecast.domain import db
    from livecast.domain.errors import DomainError

    async def run() -> T:
        await db.migrate(settings.database_url)
        await db.open_db(settings.database_url)
        try:
            return await call()
        finally:
            await db.close_db()

    try:
        return asyncio.run(run())
    except DomainError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(2) from e


if __name__ == "__main__":
    app()
