"""Fixtures for tests on the provider emulators (a pytest plugin, registered in ``tests/conftest.py``).

* ``mux_emulator`` / ``livekit_emulator``: the Mux / LiveKit emulator served in the test's event loop (the real
  SDKs talk to it), stopped after the test.
* ``mux_test_settings`` / ``livekit_test_settings``: the shared ``settings`` pointed at that emulator, with
  ``emulator_overrides`` applied (by default 2 attempts per provider call and 3 s per attempt, so injected
  failures are quick; a module overrides the ``emulator_overrides`` fixture to change them).

A module whose app or ``deps`` should use an emulator overrides ``settings`` with one of them::

    @pytest.fixture
    def settings(mux_test_settings: Settings) -> Settings:
        return mux_test_settings
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecast.settings import Settings
from tests.emulators.livekit import LiveKitEmulator, livekit_settings, running_livekit_emulator
from tests.emulators.mux import MuxEmulator, mux_settings, running_mux_emulator


@pytest.fixture
async def mux_emulator() -> AsyncIterator[MuxEmulator]:
    """The Mux emulator (Video API + stats + Data) on a free local port."""
    async with running_mux_emulator() as emulator:
        yield emulator


@pytest.fixture
async def livekit_emulator() -> AsyncIterator[LiveKitEmulator]:
    """The LiveKit emulator (Twirp RoomService + Egress, webhooks) on a free local port."""
    async with running_livekit_emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    """Settings applied on top of an emulator's URL and credentials (override per module as needed)."""
    return {"provider_retry_attempts": 2, "provider_timeout_seconds": 3.0}


@pytest.fixture
def mux_test_settings(settings: Settings, mux_emulator: MuxEmulator, emulator_overrides: dict[str, Any]) -> Settings:
    """``settings`` pointed at the Mux emulator (API, stats, token, webhook secret, signing key)."""
    return mux_settings(settings, mux_emulator, **emulator_overrides)


@pytest.fixture
def livekit_test_settings(
    settings: Settings, livekit_emulator: LiveKitEmulator, emulator_overrides: dict[str, Any]
) -> Settings:
    """``settings`` pointed at the LiveKit emulator (URL, API key and secret)."""
    return livekit_settings(settings, livekit_emulator, **emulator_overrides)
