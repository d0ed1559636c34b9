"""Retries and timeouts for provider API calls (tenacity), shared by the Mux and LiveKit adapters.

A call is attempted up to ``attempts`` times; each attempt may take ``timeout`` seconds. Only transient
failures are retried — :class:`~livecast.providers.base.ProviderUnavailable` (connection refused or reset,
timeout, HTTP 429 and 5xx, as the adapter's ``translate`` decides) — with exponential backoff and full jitter
(0.2 s growing to at most ``max_wait`` seconds). Anything else (a 4xx the provider meant) fails at once.
The caller always gets a :class:`~livecast.providers.base.ProviderError`, never a hang and never an SDK type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from livecast.providers.base import ProviderError, ProviderUnavailable

T = TypeVar("T")

Translate = Callable[[BaseException], ProviderError]
"""Maps an SDK or transport exception to the ``ProviderError`` it means (``ProviderUnavailable`` = retry)."""


async def resilient(
    provider: str,
    call: Callable[[], Awaitable[T]],
    *,
    translate: Translate,
    attempts: int,
    timeout: float,
    max_wait: float = 5.0,
) -> T:
    """Run ``call()`` (a fresh awaitable per attempt) with per-attempt timeout and retries.

    Raises the translated ``ProviderError`` of the last attempt; a timeout becomes ``ProviderUnavailable``.
    """

    async def attempt() -> T:
        try:
            async with asyncio.timeout(timeout):
                return await call()
        except ProviderError:
            raise
        except TimeoutError as e:
            raise ProviderUnavailable(provider, f"no answer within {timeout:g} s") from e
        except Exception as e:
            raise translate(e) from e

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.2, max=max_wait),
        retry=retry_if_exception_type(ProviderUnavailable),
        reraise=True,
    )
    async for state in retrying:
        with state:
            return await attempt()
    raise AssertionError("unreachable: tenacity re-raises the last failure")  # pragma: no cover


async def in_thread(
    provider: str,
    call: Callable[[], T],
    *,
    translate: Translate,
    attempts: int,
    timeout: float,
    max_wait: float = 5.0,
) -> T:
    """:func:`resilient` for a synchronous SDK call (mux-python), run in a worker thread per attempt.

    A timed-out thread is abandoned (its HTTP client has its own socket timeout), the caller is not held.
    """
    return await resilient(
        provider,
        lambda: asyncio.to_thread(call),
        translate=translate,
        attempts=attempts,
        timeout=timeout,
        max_wait=max_wait,
    )
