"""Attacks on a real ``livecast serve`` process, measured from outside (issue #10).

Every test here sends an attack as an anonymous (or merely signed-in) client would and holds the server to the
same bounds: the attack is answered with a 4xx or a GraphQL error with ``extensions.code`` within 1 s,
``/healthz`` keeps answering within 1 s while it runs, the process's RSS grows by less than 50 MB and its log
by less than 10 KB per request. The server is a subprocess (its event loop is not the test's, so a blocked
server cannot block the measurement) on the embedded default: the session's test database (SQLite, or
PostgreSQL with ``LIVECAST_TEST_DATABASE_URL``), ``memory://`` bus, RTMP ingest on a free port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecast.domain import db
from livecast.domain.auth import ensure_user, issue_token
from tests.conftest import TEST_SECRET
from tests.helpers.processes import LivecastProcess, free_port

DEADLINE = 1.0
"""Seconds within which an attack must be refused, and within which ``/healthz`` must answer meanwhile."""
RSS_GROWTH_LIMIT = 50 * 1024 * 1024
LOG_BYTES_PER_REQUEST = 10 * 1024
PROBE_SECONDS = 0.1


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (``VmRSS`` in ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass
class Watch:
    """What one :meth:`Target.attack` saw; filled in when the block exits."""

    requests: int
    rss_before: int = 0
    rss_after: int = 0
    log_before: int = 0
    log_after: int = 0
    probes: list[float] = field(default_factory=list)
    probe_failures: list[str] = field(default_factory=list)

    @property
    def rss_growth(self) -> int:
        return self.rss_after - self.rss_before

    @property
    def log_growth(self) -> int:
        return self.log_after - self.log_before


@dataclass
class Target:
    """A running ``livecast serve`` under attack."""

    process: LivecastProcess
    http_port: int
    rtmp_port: int
    env: dict[str, str]
    log: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.http}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}/graphql"

    @property
    def rtmp_url(self) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live"

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def log_size(self) -> int:
        return self.log.stat().st_size

    def output(self) -> str:
        return self.process.output()

    async def healthy(self, timeout: float = DEADLINE) -> bool:
        if not self.process.running():
            return False
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                return (await client.get(f"{self.http}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def token(self, name: str, roles: tuple[str, ...] | list[str] = ()) -> str:
        """A valid access token for user ``name`` (created in the target's database if missing)."""
        user = await ensure_user(name=name, roles=list(roles))
        return issue_token(user=user, key=TEST_SECRET, ttl_seconds=3600)

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None, timeout: float = 5.0
    ) -> tuple[int, Any]:
        """POST a GraphQL request; returns (HTTP status, decoded JSON body or the raw text); status 0 when no
        answer came within ``timeout`` seconds."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                response = await client.post(self.graphql_url, json=payload, headers=headers)
            except httpx.TimeoutException:
                return 0, f"no answer within {timeout} s"
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    @asynccontextmanager
    async def attack(self, requests: int = 1) -> AsyncIterator[Watch]:
        """Measure the block as one attack of ``requests`` requests: ``/healthz`` is probed every 100 ms
        meanwhile; on exit the bounds (module docstring) are asserted."""
        watch = Watch(requests=requests, rss_before=self.rss(), log_before=self.log_size())
        stop = asyncio.Event()

        async def probe() -> None:
            async with httpx.AsyncClient(timeout=DEADLINE) as client:
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        status = (await client.get(f"{self.http}/healthz")).status_code
                        if status != 200:
                            watch.probe_failures.append(f"/healthz answered {status}")
                    except httpx.HTTPError as e:
                        watch.probe_failures.append(f"/healthz failed after {time.monotonic() - started:.2f} s: {e!r}")
                    watch.probes.append(time.monotonic() - started)
                    try:
                        await asyncio.wait_for(stop.wait(), PROBE_SECONDS)
                    except TimeoutError:
                        pass

        prober = asyncio.create_task(probe())
        try:
            yield watch
        finally:
            await asyncio.sleep(0.3)  # let the server finish logging what the attack caused
            stop.set()
            await prober
            watch.rss_after, watch.log_after = self.rss(), self.log_size()
        slowest = max(watch.probes, default=0.0)
        assert not watch.probe_failures, watch.probe_failures[:3]
        assert watch.probes, "/healthz was never probed"
        assert slowest < DEADLINE, f"/healthz took {slowest:.2f} s during the attack"
        assert watch.rss_growth < RSS_GROWTH_LIMIT, f"RSS grew by {watch.rss_growth / 2**20:.1f} MB"
        limit = LOG_BYTES_PER_REQUEST * requests
        assert watch.log_growth < limit, (
            f"log grew by {watch.log_growth} bytes for {requests} request(s):\n"
            + self.log.read_text(errors="replace")[watch.log_before : watch.log_before + 2000]
        )


def assert_refused(response: httpx.Response, elapsed: float, *, status: int | tuple[int, ...] | None = None) -> None:
    """An HTTP refusal: a 4xx (``status`` if given) within :data:`DEADLINE`."""
    assert elapsed < DEADLINE, f"answered after {elapsed:.2f} s"
    expected = (status,) if isinstance(status, int) else status
    if expected is not None:
        assert response.status_code in expected, (response.status_code, response.text[:500])
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])


def graphql_codes(body: Any) -> list[str]:
    """The ``extensions.code`` of every error of a GraphQL response body (``None`` where missing)."""
    assert isinstance(body, dict), body
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]


def assert_graphql_refused(status: int, body: Any, elapsed: float, *codes: str) -> None:
    """A GraphQL refusal within :data:`DEADLINE`: every error has an ``extensions.code`` (one of ``codes``
    when given) and no message is the masked "Unexpected error."."""
    assert elapsed < DEADLINE, f"answered after {elapsed:.2f} s"
    assert status < 500, (status, body)
    found = graphql_codes(body)
    assert found, body
    assert None not in found, body
    if codes:
        assert set(found) <= set(codes), (found, codes)
    assert all(error.get("message") != "Unexpected error." for error in body["errors"]), body


async def launch(database_url: str, workdir: Path, **env: str) -> Target:
    """Start ``livecast serve --no-migrate`` on free ports, ``LIVECAST_<KEY>`` = value for each ``env`` item;
    returns once ``/healthz`` answers and the RTMP port accepts. The caller stops ``target.process``."""
    http_port, rtmp_port = free_port(), free_port()
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a test directory, once
    settings = {
        "LIVECAST_DATABASE_URL": database_url,
        "LIVECAST_DATA_DIR": str(workdir / "data"),
        "LIVECAST_SECRET_KEY": TEST_SECRET,
        "LIVECAST_HTTP_PORT": str(http_port),
        "LIVECAST_RTMP_PORT": str(rtmp_port),
        "LIVECAST_HLS_SEGMENT_SECONDS": "1",
    } | {f"LIVECAST_{key.upper()}": value for key, value in env.items()}
    log = workdir / f"serve-{http_port}.log"
    process = await LivecastProcess("serve --no-migrate", settings, log).start()
    target = Target(process=process, http_port=http_port, rtmp_port=rtmp_port, env=settings, log=log)
    try:
        await process.ready(http_port=http_port, rtmp_port=rtmp_port)
    except BaseException:
        await process.stop()
        raise
    return target


@asynccontextmanager
async def start_target(database_url: str, workdir: Path, **env: str) -> AsyncIterator[Target]:
    """:func:`launch` for one block (e.g. a target with other settings: ``start_target(abuse_db, tmp_path,
    env="production")``); stopped on exit."""
    target = await launch(database_url, workdir, **env)
    try:
        yield target
    finally:
        await target.process.stop()


@pytest.fixture(scope="module")
async def abuse_db(database_url: str) -> AsyncIterator[str]:
    """The session's test database, opened in this process too (tokens and fixtures are written here)."""
    await db.open_db(database_url)
    try:
        yield database_url
    finally:
        await db.close_db()


@pytest.fixture(scope="module")
async def _module_targets() -> AsyncIterator[list[Target]]:
    started: list[Target] = []
    try:
        yield started
    finally:
        for target in started:
            await target.process.stop()


@pytest.fixture
async def target(_module_targets: list[Target], abuse_db: str, tmp_path_factory: pytest.TempPathFactory) -> Target:
    """One ``livecast serve`` per test module, started again before a test if an earlier attack killed it or it
    stopped answering (that earlier test failed on its own assertions)."""
    if _module_targets and await _module_targets[-1].healthy():
        return _module_targets[-1]
    if _module_targets:
        await _module_targets[-1].process.stop()
    _module_targets.append(await launch(abuse_db, tmp_path_factory.mktemp("abuse")))
    return _module_targets[-1]
