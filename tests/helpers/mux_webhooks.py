"""Mux webhook tests' set-up (``tests/test_webhooks_mux*.py``): livecast served on the Mux emulator with a Mux
stream created through GraphQL, signed deliveries to ``/webhooks/mux``, and waiting for the inbox to settle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx

from livecast.domain import streams
from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.emulators.mux import MuxEmulator, mux_settings, running_mux_emulator
from tests.helpers.client import create_stream
from tests.helpers.waiting import eventually
from tests.helpers.webhooks import T0, inbox, mux_delivery, mux_event, post

SEQUENCE = ["connected", "recording", "active", "disconnected", "active", "idle"]
"""One broadcast as Mux reports it, one event per second from T0."""
EXPECTED = ["PREPARING", "PREPARING", "LIVE", "RECONNECTING", "LIVE", "ENDED"]


@dataclass
class MuxSetup:
    server: Server
    emulator: MuxEmulator
    secret: str
    token: str

    async def stream(self, **fields: object) -> tuple[str, str]:
        """A new Mux-backed stream: ``(livecast id, Mux live stream id)``."""
        created = await create_stream(self.server.graphql_http, self.token, provider="mux", **fields)
        row = await streams.existing_stream(created["id"])
        assert row.provider == "mux" and row.provider_stream_id in self.emulator.live_streams
        return created["id"], row.provider_stream_id

    async def deliver(self, payload: dict, **kwargs: object) -> httpx.Response:
        body, headers = mux_delivery(payload, self.secret, **kwargs)
        return await post(self.server.http, "mux", body, headers)


@asynccontextmanager
async def mux_setup(settings: Settings, *, workers: bool = True) -> AsyncIterator[MuxSetup]:
    """livecast served on ``settings`` pointed at a fresh Mux emulator (``workers=False``: no background jobs)."""
    async with running_mux_emulator() as emulator:
        configured = mux_settings(settings, emulator)
        async with run_server(configured, workers=workers) as server:
            token = await server.token("mux-owner")
            yield MuxSetup(server, emulator, configured.mux_webhook_secret.get_secret_value(), token)


async def status_of(stream_id: str) -> str:
    return (await streams.existing_stream(stream_id)).status.value


def sequence(mux_id: str) -> list[dict]:
    return [
        mux_event(f"video.live_stream.{kind}", mux_id, at=T0 + timedelta(seconds=i)) for i, kind in enumerate(SEQUENCE)
    ]


async def settled(stream_id: str, count: int) -> list:
    """The stream's stored events once ``count`` of them are no longer pending."""

    async def done() -> list | None:
        rows = await inbox(stream_id=stream_id)
        return rows if len(rows) == count and all(r.status.value not in ("PENDING", "FAILED") for r in rows) else None

    return await eventually(done, timeout=15, what=f"{count} applied webhook events")


async def has_status(stream_id: str, status: str) -> bool:
    return await status_of(stream_id) == status
