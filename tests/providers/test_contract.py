"""Collects the provider contract (:mod:`tests.providers.contract`) for every adapter: local, memory, mux, livekit."""

from __future__ import annotations

from tests.providers.contract import ProviderContract


class TestProviderContract(ProviderContract):
    pass
