"""Fixtures of the browser tests: one headless Chromium for the package's tests (Debian's, driven by Playwright),
the page server, and ``open_player`` (a fresh browser context per page).

Without Chromium, Playwright or hls.js the tests skip with the reason and the command that fixes it; under CI
(``CI`` set, as ``.ci/run`` does, which installs all three) they fail instead."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.browser.harness import CHROMIUM_ARGS, PageServer, Player, chromium_executable, missing_requirement

OpenPlayer = Callable[..., Awaitable[Player]]


@pytest.fixture(scope="package", autouse=True)
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, launched by Playwright from its system path (never a downloaded one).
    Autouse: a test skips (or fails under CI) before it starts a server and encoders it could not watch."""
    reason = missing_requirement()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests must run in CI (.ci/run installs what they need): {reason}")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture(scope="package")
async def page_server(browser: Any) -> AsyncIterator[PageServer]:
    server = await PageServer().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def open_player(browser: Any, page_server: PageServer) -> AsyncIterator[OpenPlayer]:
    """``await open_player(hls_url, config=None)``: a new page (own context: no shared cache) playing
    ``hls_url`` with hls.js; every page is closed at teardown."""
    contexts: list[Any] = []

    async def open_(hls_url: str, config: dict[str, Any] | None = None) -> Player:
        context = await browser.new_context()
        contexts.append(context)
        page = await context.new_page()
        player = Player(page)
        await page.goto(page_server.url(hls_url, config))
        state = await player.state()
        assert state["supported"], f"hls.js {state['hlsVersion']} says this Chromium has no MSE for it"
        return player

    yield open_
    for context in contexts:
        await context.close()
