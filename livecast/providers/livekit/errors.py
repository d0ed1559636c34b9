"""Translate livekit-api failures (Twirp ``ServerError``, aiohttp transport errors) into ``ProviderError``."""

from __future__ import annotations

import asyncio

import aiohttp
from livekit.api import ServerError

from livecast.providers.base import ProviderError, ProviderNotFound, ProviderRejected, ProviderUnavailable

NAME = "livekit"

RETRYABLE = frozenset(
    {"unavailable", "internal", "unknown", "deadline_exceeded", "resource_exhausted", "canceled", "aborted"}
)
"""Twirp codes worth retrying (LiveKit overloaded, restarting or briefly unreachable)."""


def translate(error: BaseException) -> ProviderError:
    """``not_found`` → ``ProviderNotFound``; transport errors, timeouts, 5xx and :data:`RETRYABLE` codes →
    ``ProviderUnavailable`` (retried); anything else (``invalid_argument``, ``unauthenticated``,
    ``failed_precondition``, ...) → ``ProviderRejected``."""
    if isinstance(error, ServerError):
        text = f"{error.code}: {error.message} (HTTP {error.status})"
        if error.code == "not_found":
            return ProviderNotFound(NAME, text)
        if error.code in RETRYABLE or error.status >= 500:
            return ProviderUnavailable(NAME, text)
        return ProviderRejected(NAME, text)
    if isinstance(error, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return ProviderUnavailable(NAME, f"LiveKit unreachable: {error!r}")
    return ProviderRejected(NAME, f"unexpected failure: {error!r}")
