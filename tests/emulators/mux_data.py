"""Mux Data / stats.mux.com routes of the Mux emulator (real-time viewers, live stream health).

Filled in with the Mux health and viewers work; ``tests.emulators.mux`` mounts whatever ``data_routes`` returns.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute


def data_routes(emulator: Any) -> list[BaseRoute]:
    return []
