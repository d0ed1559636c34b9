"""Lazy provider registry: an adapter's module (and its SDK) is imported only when first asked for."""

from __future__ import annotations

import importlib

from livecast.providers.base import ProviderRejected, StreamProvider
from livecast.settings import Settings

KNOWN: dict[str, str] = {
    "local": "livecast.providers.local.provider:LocalProvider",
    "memory": "livecast.providers.memory:MemoryProvider",
    "mux": "livecast.providers.mux:MuxProvider",
    "livekit": "livecast.providers.livekit:LiveKitProvider",
}
"""Provider name → ``module:Class``. The class is constructed with the ``Settings``."""


class ProviderRegistry:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._instances: dict[str, StreamProvider] = {}

    @staticmethod
    def names() -> list[str]:
        return sorted(KNOWN)

    def get(self, name: str) -> StreamProvider:
        """Return the adapter for ``name``; raises ``ProviderRejected`` for an unknown name."""
        if name not in self._instances:
            target = KNOWN.get(name)
            if target is None:
                raise ProviderRejected(name, f"unknown provider; known: {', '.join(self.names())}")
            module_name, _, class_name = target.partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            self._instances[name] = cls(self._settings)
        return self._instances[name]
