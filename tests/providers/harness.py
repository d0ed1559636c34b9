"""Adapters under contract (:mod:`tests.providers.contract`): each built by the registry from test settings,
with its emulator (Mux, LiveKit) and what it declares it supports."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest

from livecast.providers.base import ProvisionedStream, StreamProvider, StreamRef, StreamSpec
from livecast.providers.registry import ProviderRegistry
from livecast.settings import Settings

ADAPTERS = ["local", "memory", "mux", "livekit"]
REMOTE_ADAPTERS = ["memory", "mux", "livekit"]
"""Adapters that call something which can be down (memory: by fault injection)."""
FEATURES = frozenset(
    {"reset_key", "enable", "sign", "simulcast", "hls", "registry", "complete_disconnects", "recording"}
)
TTL = 600
"""Seconds of the playback tokens signed in the contract."""


@dataclass
class Harness:
    """An adapter under test and what it declares.

    ``features`` ⊆ :data:`FEATURES`; ``ingest_schemes``: schemes of ``IngestEndpoints.rtmp_url``; ``verify(token)``
    checks a playback token's signature and returns its claims; ``activate(ref)`` plays a connected encoder;
    ``outage()`` makes the provider unreachable inside its block (``None``: nothing remote); ``stored(ref)`` is
    what the provider keeps of the stream's settings (:func:`settings_of`), ``None`` when it keeps none (local:
    the database holds them; LiveKit: a room has none of them).
    """

    provider: StreamProvider
    features: frozenset[str]
    ingest_schemes: tuple[str, ...]
    verify: Callable[[str], dict[str, Any]]
    activate: Callable[[StreamRef], None]
    outage: Callable[[], AbstractAsyncContextManager[None]] | None = None
    stored: Callable[[StreamRef], dict[str, Any]] | None = None
    created: list[StreamRef] = field(default_factory=list)

    def has(self, feature: str) -> bool:
        assert feature in FEATURES, feature
        return feature in self.features

    async def create(self, policy: str = "PUBLIC", **changes: Any) -> StreamRef:
        provisioned = await self.provider.create_stream(spec(policy, **changes))
        assert isinstance(provisioned, ProvisionedStream)
        ref = StreamRef(provisioned.provider_stream_id, provisioned.stream_key, provisioned.playback_id, policy)
        self.created.append(ref)
        return ref


def spec(policy: str = "PUBLIC", **changes: Any) -> StreamSpec:
    values: dict[str, Any] = {
        "title": "contract", "latency_mode": "STANDARD", "playback_policy": policy, "reconnect_window": 60,
        "max_continuous_duration": 3600, "recording_enabled": True,
    }  # fmt: skip
    values.update(changes)
    return StreamSpec(**values)


def settings_of(title: str, latency_mode: str, reconnect_window: float, max_continuous_duration: int) -> dict[str, Any]:
    """Stream settings as the contract compares them (``latency_mode`` upper-cased, as in ``StreamSpec``)."""
    return {"title": title, "latency_mode": latency_mode.upper(), "reconnect_window": reconnect_window,
            "max_continuous_duration": max_continuous_duration}  # fmt: skip


def _emulator_module(name: str) -> Any:
    try:
        return importlib.import_module(f"tests.emulators.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"tests.emulators.{name}":
            raise
        pytest.fail(f"tests/emulators/{name}.py is not written yet: the {name} contract cannot run")


def _contract_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"provider_retry_attempts": 2, "provider_timeout_seconds": 3.0})


@asynccontextmanager
async def harness_for(name: str, settings: Settings) -> AsyncIterator[Harness]:
    """The adapter ``name``, built by the registry from ``settings`` (and its emulator, for Mux and LiveKit)."""
    settings = _contract_settings(settings)
    if name == "local":
        from livecast.providers.local import tokens

        def touch_playlist(ref: StreamRef) -> None:  # the pipeline writes the playlist while publishing
            folder = settings.hls_dir / ref.playback_id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "index.m3u8").write_text("#EXTM3U\n")

        def verify_local(token: str) -> dict[str, Any]:
            return jwt.decode(token, settings.signing_key, algorithms=["HS256"], audience=tokens.HLS_AUDIENCE)

        yield Harness(ProviderRegistry(settings).get("local"), frozenset({"reset_key", "sign", "hls"}),
                      ("rtmp",), verify_local, touch_playlist)  # fmt: skip
    elif name == "memory":
        from livecast.providers.memory import AUDIENCE, MemoryProvider

        memory = ProviderRegistry(settings).get("memory")
        assert isinstance(memory, MemoryProvider)

        @asynccontextmanager
        async def memory_outage() -> AsyncIterator[None]:
            memory.fail_next(10_000)
            try:
                yield
            finally:
                memory._faults.clear()

        def verify_memory(token: str) -> dict[str, Any]:
            return jwt.decode(token, settings.signing_key, algorithms=["HS256"], audience=AUDIENCE)

        def connect(ref: StreamRef) -> None:
            memory.connect(ref.stream_key)

        def memory_settings(ref: StreamRef) -> dict[str, Any]:
            kept = memory.streams[ref.provider_stream_id or ""].spec
            return settings_of(kept.title, kept.latency_mode, kept.reconnect_window, kept.max_continuous_duration)

        yield Harness(memory, FEATURES, ("rtmp",), verify_memory, connect, memory_outage, memory_settings)
    elif name == "mux":
        emulators = _emulator_module("mux")
        async with emulators.running_mux_emulator() as emulator:
            configured = emulators.mux_settings(settings, emulator)

            def verify_mux(token: str) -> dict[str, Any]:
                public_key = emulator.signing_keys[jwt.get_unverified_header(token)["kid"]]
                return jwt.decode(token, public_key, algorithms=["RS256"], audience="v")

            def mux_stream_settings(ref: StreamRef) -> dict[str, Any]:  # the live stream as Mux returns it
                kept = emulator.live_streams[ref.provider_stream_id]
                return settings_of(
                    kept["meta"]["title"],
                    kept["latency_mode"],
                    kept["reconnect_window"],
                    kept["max_continuous_duration"],
                )

            yield Harness(ProviderRegistry(configured).get("mux"), FEATURES, ("rtmp", "rtmps"), verify_mux,
                          lambda ref: emulator.set_status(ref.provider_stream_id, "active"), emulator.down,
                          mux_stream_settings)  # fmt: skip
    elif name == "livekit":
        emulators = _emulator_module("livekit")
        async with emulators.running_livekit_emulator() as emulator:

            @asynccontextmanager
            async def livekit_outage() -> AsyncIterator[None]:
                emulator.available = False
                try:
                    yield
                finally:
                    emulator.available = True

            def no_tokens(token: str) -> dict[str, Any]:
                raise AssertionError("LiveKit signs no playback tokens")

            provider = ProviderRegistry(emulators.livekit_settings(settings, emulator)).get("livekit")
            yield Harness(provider, frozenset({"registry", "complete_disconnects"}), ("ws", "wss", "http", "https"),
                          no_tokens, lambda ref: _join(emulator, ref), livekit_outage)  # fmt: skip
    else:
        raise AssertionError(f"no harness for {name}")


def _join(emulator: Any, ref: StreamRef) -> None:
    """A publisher joins the LiveKit room (what an encoder connecting is for a room)."""
    emulator.join(ref.provider_stream_id, "encoder")
