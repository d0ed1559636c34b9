"""Attack 11: what an anonymous client or a log reader can learn — the schema in production, stream keys in a
DEBUG log, the database file, files outside the media directory."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from tests.abuse.conftest import Target, assert_graphql_refused, start_target
from tests.conftest import TEST_SECRET

CREATE = 'mutation { createStream(input: { title: "secret keys" }) { ... on Stream { ingest { streamKey } } } }'


async def test_production_keeps_the_schema_to_itself(abuse_db: str, tmp_path: Path) -> None:
    async with start_target(abuse_db, tmp_path, env="production") as target:
        async with target.attack(requests=4):
            for document in ("{ __schema { types { name fields { name } } } }", '{ __type(name: "Stream") { name } }',
                             "{ streamz { edges { cursor } } }"):  # fmt: skip
                started = time.monotonic()
                status, body = await target.graphql(document)
                assert_graphql_refused(status, body, time.monotonic() - started, "GRAPHQL_VALIDATION_FAILED")
                assert "Did you mean" not in str(body)
            async with httpx.AsyncClient(timeout=5) as client:
                page = await client.get(target.graphql_url, headers={"Accept": "text/html"})
            assert page.status_code == 404 and "graphiql" not in page.text.lower()


async def test_stream_keys_stay_out_of_a_debug_log(abuse_db: str, tmp_path: Path) -> None:
    async with start_target(abuse_db, tmp_path, log_level="DEBUG") as target:
        token = await target.token("abuse-secrets")
        status, body = await target.graphql(CREATE, token=token)
        key = body["data"]["createStream"]["ingest"]["streamKey"]
        _, writer = await asyncio.open_connection("127.0.0.1", target.rtmp_port)
        writer.close()
        status, body = await target.graphql("{ streams { edges { node { ingest { streamKey } } } } }", token=token)
        assert status == 200
        await asyncio.sleep(0.5)
        log = target.output()
        assert len(log) > 1000  # a DEBUG log, really
        assert key not in log


async def test_the_sqlite_database_is_private(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'new.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECAST_")}
    env |= {
        "LIVECAST_DATABASE_URL": url,
        "LIVECAST_DATA_DIR": str(tmp_path / "data"),
        "LIVECAST_SECRET_KEY": TEST_SECRET,
    }
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "livecast.cli", "migrate", env=env)
    assert await process.wait() == 0
    assert (tmp_path / "new.db").stat().st_mode & 0o777 == 0o600


async def test_hls_does_not_follow_links_out_of_the_media_directory(target: Target, tmp_path: Path) -> None:
    secret = tmp_path / "secret.m3u8"
    secret.write_text("#EXTM3U\n# not for you\n")
    media = Path(target.env["LIVECAST_DATA_DIR"]) / "media" / "linkedaway"
    media.mkdir(parents=True, exist_ok=True)
    (media / "index.m3u8").symlink_to(secret)
    (media / "seg0.ts").symlink_to(secret)
    async with target.attack(requests=2), httpx.AsyncClient(timeout=5) as client:
        for name in ("index.m3u8", "seg0.ts"):
            response = await client.get(f"{target.http}/hls/linkedaway/{name}")
            assert response.status_code == 404, (name, response.text)
