"""Database connection and migrations (Tortoise ORM + aerich).

aerich writes migrations as SQL for one dialect, so the checked-in migrations live in one folder per
dialect: ``migrations/sqlite/`` and ``migrations/postgres/``. :func:`migrate` applies the folder that matches
the database URL; ``livecast makemigrations NAME`` regenerates both from the models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.context import TortoiseContext

from livecast.domain.db_engines import engine_config

APP = "models"
MODEL_MODULES = [
    "livecast.domain.models",
    "livecast.domain.chat_models",
    "livecast.domain.health_models",
    "livecast.domain.viewer_models",
    "livecast.domain.provider_models",
    "aerich.models",
]
MIGRATIONS_ROOT = Path(__file__).resolve().parents[2] / "migrations"


def dialect(database_url: str) -> str:
    """``sqlite`` or ``postgres`` from a Tortoise DB URL (``postgres://``, ``asyncpg://``, ``sqlite://``)."""
    scheme = database_url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite"):
        return "sqlite"
    if scheme in ("postgres", "postgresql", "asyncpg", "psycopg"):
        return "postgres"
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:// or postgres://")


def tortoise_config(database_url: str) -> dict[str, Any]:
    """Tortoise's config for ``database_url`` (SQLite and PostgreSQL through :mod:`livecast.domain.db_engines`,
    whose transactions survive cancellation)."""
    return {
        "connections": {"default": engine_config(database_url)},
        "apps": {APP: {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def migrations_dir(database_url: str) -> Path:
    return MIGRATIONS_ROOT / dialect(database_url)


def _private_sqlite_file(database_url: str) -> None:
    """Create the SQLite database file readable by its owner only (0600), or make an existing one so: it holds
    stream keys and users. ``:memory:`` databases have no file."""
    if dialect(database_url) != "sqlite":
        return
    path = database_url.split("://", 1)[1].split("?", 1)[0]
    if not path or path.startswith(":memory:"):
        return
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o600))
    if file.stat().st_mode & 0o077:
        file.chmod(0o600)


async def open_db(database_url: str) -> None:
    """Connect Tortoise for this process (visible from every task, e.g. uvicorn's request tasks)."""
    _private_sqlite_file(database_url)
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str) -> list[str]:
    """Apply pending migrations for the URL's dialect; returns the applied version files."""
    from aerich import Command

    _private_sqlite_file(database_url)
    with TortoiseContext():  # isolated: aerich opens and closes its own connections
        location = str(migrations_dir(database_url))
        async with Command(tortoise_config(database_url), app=APP, location=location) as cmd:
            return await cmd.upgrade(run_in_transaction=True)


async def make_migrations(name: str, database_url: str) -> str | None:
    """Generate a migration from the models for the URL's dialect (needs a migrated database of it)."""
    from aerich import Command

    location = str(migrations_dir(database_url))
    with TortoiseContext():
        async with Command(tortoise_config(database_url), app=APP, location=location) as cmd:
            if not (Path(location) / APP).exists():
                await cmd.init_db(safe=True)
                return "initial"
            return await cmd.migrate(name=name, no_input=True)
