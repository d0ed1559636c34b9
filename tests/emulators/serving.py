"""Serving an emulator's ASGI app with uvicorn inside the test's event loop (started, then stopped)."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn


async def start_serving(app: Any, port: int, what: str) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Serve ``app`` on ``127.0.0.1:port`` (no lifespan); returns once it listens (about 4 s at most, else an
    ``AssertionError`` naming ``what``; a startup error is raised as is)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()
    assert server.started, f"{what} did not start"
    return server, task


async def stop_serving(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Stop a server started by :func:`start_serving` (waits up to 10 s)."""
    server.should_exit = True
    await asyncio.wait_for(task, 10)
