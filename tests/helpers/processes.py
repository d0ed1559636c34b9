"""Real livecast processes (``livecast serve``, ``livecast ingest``) and a private Redis server for tests
that need several processes or a Redis they may stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.helpers.waiting import eventually


def ffmpeg_children(pid: int | None, marker: str = "pipe:0") -> list[int]:
    """Pids of the live child processes of ``pid`` (``None``: of any process) whose command line is ffmpeg's and
    contains ``marker`` (by default the ingest's HLS packagers, which read FLV from ``pipe:0``; test encoders do
    not), from ``/proc``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state, ppid, ...
        if fields[0] == "Z" or (pid is not None and int(fields[1]) != pid):
            continue
        if b"ffmpeg" in Path(argv[0].decode(errors="replace")).name.encode() and any(
            marker.encode() in a for a in argv
        ):
            found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class LivecastProcess:
    """``python -m livecast.cli <command>`` with ``LIVECAST_*`` settings from ``env``; output goes to ``log``."""

    def __init__(self, command: str, env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, env, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> LivecastProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECAST_")} | self.env
        with open(self.log, "wb") as out:  # noqa: ASYNC230 - opened once, handed to the child
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "livecast.cli", *self.command.split(),
                env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def ready(self, *, http_port: int | None = None, rtmp_port: int | None = None, timeout: float = 60) -> None:
        async def up() -> bool:
            assert self.running(), f"livecast {self.command} exited:\n{self.output()}"
            if http_port is not None:
                try:
                    async with httpx.AsyncClient() as client:
                        if (await client.get(f"http://127.0.0.1:{http_port}/healthz")).status_code != 200:
                            return False
                except httpx.HTTPError:
                    return False
            return rtmp_port is None or await port_open(rtmp_port)

        await eventually(up, timeout=timeout, interval=0.2, what=f"livecast {self.command} to listen")

    async def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


@asynccontextmanager
async def livecast_processes() -> AsyncIterator[list[LivecastProcess]]:
    """Processes appended to the yielded list are stopped at exit, whatever the test did."""
    started: list[LivecastProcess] = []
    try:
        yield started
    finally:
        for process in started:
            await process.stop()


class PrivateRedis:
    """A redis-server of this test's own on a free port, so a test may stop and restart it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def binary() -> str | None:
        return shutil.which("redis-server")

    async def start(self) -> None:
        binary = self.binary()
        assert binary, "redis-server is not installed"
        self.process = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await eventually(lambda: port_open(self.port), timeout=10, what="redis-server to listen")

    async def kill(self) -> None:
        """Stop it the hard way (connections reset, no goodbye), like a crashed or unreachable Redis."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
