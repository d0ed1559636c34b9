"""hls.js in headless Chromium: what a viewer's browser does with ``playback.hlsUrl``.

- Chromium is Debian's (``apt-get install chromium``: ``/usr/bin/chromium``, or ``LIVECAST_TEST_CHROMIUM``),
  driven by Playwright for Python with that executable; Playwright never downloads a browser here.
- hls.js 1.x comes from npm into ``tests/browser/node_modules`` (``make browser-deps``: ``npm ci`` from the
  committed ``package.json`` and ``package-lock.json``).
- :class:`PageServer` serves ``player.html`` and the local hls.js on its own localhost port, so the page
  plays the HLS origin cross-origin, as a watch page on another site would (CORS included). No request
  leaves localhost.
- :class:`Player` reads the page's ``window.player`` record (hls.js and ``<video>`` events) and the
  ``<video>`` element's ``currentTime``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tests.helpers.processes import free_port
from tests.helpers.waiting import eventually

HERE = Path(__file__).parent
PAGE = HERE / "player.html"
HLS_JS_DIST = HERE / "node_modules" / "hls.js" / "dist"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # no calls home: the machine's network is closed
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_executable() -> str | None:
    """``LIVECAST_TEST_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else ``chromium`` on ``PATH``."""
    configured = os.environ.get("LIVECAST_TEST_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    return shutil.which("chromium")


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here (with the command that fixes it), or ``None``."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: pip install -e '.[test]'"
    if chromium_executable() is None:
        return "Chromium is not installed: apt-get install -y chromium (or set LIVECAST_TEST_CHROMIUM)"
    if not (HLS_JS_DIST / "hls.min.js").is_file():
        return "hls.js is not installed: make browser-deps (npm ci in tests/browser)"
    return None


class PageServer:
    """``/`` is the test player page, ``/hls.js/`` the local hls.js build; uvicorn on a free localhost port
    inside the test's event loop."""

    def __init__(self) -> None:
        self.port = free_port()
        app = Starlette(
            routes=[
                Route("/", lambda _: FileResponse(PAGE, headers={"Cache-Control": "no-store"})),
                Mount("/hls.js", StaticFiles(directory=HLS_JS_DIST)),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    def url(self, hls_url: str, config: dict[str, Any] | None = None) -> str:
        """The page that plays ``hls_url`` with hls.js, ``config`` passed to ``new Hls(config)``."""
        query = {"src": hls_url} | ({"config": json.dumps(config)} if config else {})
        return f"http://127.0.0.1:{self.port}/?{urlencode(query)}"

    async def start(self) -> PageServer:
        self._task = asyncio.create_task(self._server.serve())
        await eventually(lambda: self._server.started or self._task.done(), timeout=10, what="page server")
        if self._task.done():
            self._task.result()
        return self

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)


class PlayerFailed(AssertionError):
    """hls.js reported a fatal error: the page will never play (the log says what happened)."""


class Player:
    """One page playing one HLS URL; every read goes to the page (``page`` is a Playwright ``Page``)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.playlists: deque[str] = deque(maxlen=3)
        """The last distinct playlist answers the page got (``<status> <url>`` and the body), for failures."""
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("response", self._keep_playlist)

    async def _keep_playlist(self, response: Any) -> None:
        if not response.url.split("?", 1)[0].endswith(".m3u8"):
            return
        try:
            body = await response.text()
        except Exception as e:  # the page went away meanwhile; this is only a diagnostic
            body = f"(body unavailable: {e})"
        answer = f"{response.status} {response.url}\n{body}"
        if not self.playlists or self.playlists[-1] != answer:
            self.playlists.append(answer)

    async def state(self) -> dict[str, Any]:
        """``window.player`` (see player.html) plus the ``<video>`` element's ``currentTime`` (seconds)."""
        return await self.page.evaluate(
            "() => ({...window.player, currentTime: document.getElementById('video').currentTime})"
        )

    async def current_time(self) -> float:
        return float(await self.page.evaluate("() => document.getElementById('video').currentTime"))

    async def log(self, name: str | None = None) -> list[dict[str, Any]]:
        """The page's event log (``{t, name, ...}``), or only the entries called ``name``."""
        entries = (await self.state())["log"]
        return [e for e in entries if name is None or e["name"] == name]

    async def describe(self) -> str:
        """The page's state and event log, for a failure message."""
        state = await self.state()
        lines = [f"{k}={state[k]!r}" for k in ("hlsVersion", "currentTime", "fatal", "ended", "playlistLoads")]
        lines += [json.dumps(entry) for entry in state["log"][-60:]]
        lines += self.console[-20:]
        lines += ["-- last playlists the page got:", *self.playlists]
        return "\n".join(lines)

    async def until(self, condition: str, *, timeout: float, what: str) -> dict[str, Any]:
        """Wait until the JS expression ``condition`` (over ``p``, the state of :meth:`state`) holds, and return
        the state. A fatal hls.js error fails at once, a timeout after ``timeout`` s, both with the page's log."""
        check = f"(p) => Boolean({condition})"

        async def holds() -> dict[str, Any] | None:
            state = await self.state()
            if state["fatal"] is not None:
                raise PlayerFailed(f"hls.js gave up while waiting for {what}:\n{await self.describe()}")
            return state if await self.page.evaluate(check, state) else None

        try:
            return await eventually(holds, timeout=timeout, interval=0.2, what=what)
        except PlayerFailed:
            raise
        except AssertionError as e:
            raise AssertionError(f"{e}\n{await self.describe()}") from None

    async def plays_past(self, seconds: float, *, timeout: float, what: str) -> dict[str, Any]:
        """Wait until ``currentTime`` >= ``seconds`` (the page really plays: media time advances)."""
        return await self.until(f"p.currentTime >= {seconds}", timeout=timeout, what=what)
