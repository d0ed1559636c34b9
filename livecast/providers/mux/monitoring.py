"""Mux monitoring: live stream ingest health (stats.mux.com) and real-time concurrent viewers (Mux Data).

Two Mux APIs, both read-only, translated into the provider-neutral :class:`~livecast.providers.base.IngestHealth`
and :class:`~livecast.providers.base.ViewerCounts`:

* **Live stream health stats** (Mux docs, "Show live stream health stats to your streamer"):
  ``GET <mux_stats_url>/live-stream-health?token=<JWT>`` answers
  ``{"data": [{"ingest_health": {"updated_at": "2022-11-14T17:32:23", "stream_drift_session_avg": 384,
  "stream_drift_deviation_from_rolling_avg": 12, "status": "excellent"}}]}`` (milliseconds; status
  ``excellent`` <= 500 ms deviation, ``good`` <= 1 s, ``poor`` > 1 s, ``unknown`` without recent data). The JWT
  is RS256, signed with the URL signing key (``mux_signing_key_id`` as header ``kid``,
  ``mux_signing_private_key``), claims ``sub`` = live stream id, ``aud`` = ``live_stream_id``, ``exp``.
* **Mux Data monitoring breakdown** (Mux docs, "Get Monitoring Breakdown"), through mux-python's
  ``MonitoringApi`` with the access token (HTTP Basic):
  ``GET /data/v1/monitoring/metrics/current-concurrent-viewers/breakdown?dimension=stream_type``
  ``&filters[]=live_stream_id:<id>``.
  Each row (one per dimension value) carries ``concurrent_viewers``; their sum is the stream's CCV. The access
  token needs the "Mux Data" read permission.

Every call goes through :mod:`livecast.providers.resilience` (per-attempt timeout, retries of transient
failures) and fails only with ``ProviderError``: ``ProviderRejected`` (not configured, 4xx, bad answer),
``ProviderNotFound`` (404) or ``ProviderUnavailable`` (unreachable, timeout, 429, 5xx).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import mux_python

from livecast.providers.base import (
    IngestHealth,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
    StreamRef,
    ViewerCounts,
)
from livecast.providers.mux.errors import translate as sdk_translate
from livecast.providers.mux.signing import PlaybackSigner
from livecast.providers.resilience import in_thread, resilient
from livecast.settings import Settings

PROVIDER = "mux"
CCV_METRIC = "current-concurrent-viewers"
CCV_DIMENSION = "stream_type"
"""Breakdown dimension: a small one (live / on-demand), so one stream's views fit in a few rows."""
HEALTH_PATH = "/live-stream-health"
STATS_AUDIENCE = "live_stream_id"
TOKEN_TTL_SECONDS = 300
"""Lifetime of the stats JWT signed for each health request."""
CONCURRENCY = 8
"""Mux Data requests in flight at once for one :meth:`MuxMonitoring.current_viewers` call."""
STATUSES = {"excellent": "EXCELLENT", "good": "GOOD", "poor": "POOR", "unknown": "UNKNOWN"}


def translate(e: BaseException) -> ProviderError:
    """An httpx failure (stats.mux.com) as the ``ProviderError`` it means: 404 → ``ProviderNotFound``, 429 and
    5xx and transport failures → ``ProviderUnavailable`` (retried), other 4xx → ``ProviderRejected``. SDK
    failures go to :func:`livecast.providers.mux.errors.translate`."""
    if isinstance(e, httpx.HTTPStatusError):
        status = e.response.status_code
        message = f"{e.response.reason_phrase} (HTTP {status})"
        if status == 404:
            return ProviderNotFound(PROVIDER, message)
        if status == 429 or status >= 500:
            return ProviderUnavailable(PROVIDER, message)
        return ProviderRejected(PROVIDER, f"stats.mux.com refused the request: {message}")
    if isinstance(e, httpx.TransportError):
        return ProviderUnavailable(PROVIDER, f"could not reach stats.mux.com: {type(e).__name__}: {e}")
    if isinstance(e, ValueError):  # not JSON
        return ProviderRejected(PROVIDER, f"unexpected answer from stats.mux.com: {e}")
    return sdk_translate(e)


class MuxMonitoring:
    """Mux's health and viewer APIs for one ``Settings`` (implements ``HealthSource`` and ``ViewerSource``).

    Health needs ``mux_signing_key_id`` and ``mux_signing_private_key``; viewers need ``mux_token_id`` and
    ``mux_token_secret``. Without them the calls raise (health) or report (viewers) ``ProviderRejected``.
    """

    name = PROVIDER

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._monitoring: mux_python.MonitoringApi | None = None
        key = settings.mux_signing_private_key
        self._signer = PlaybackSigner(settings.mux_signing_key_id, key.get_secret_value() if key else None)

    # -- health (stats.mux.com) -------------------------------------------------------------------------

    def stats_token(self, live_stream_id: str) -> str:
        """A stats JWT for one live stream (RS256; ``sub``, ``aud`` = ``live_stream_id``, ``exp``; header ``kid``).
        Raises ``ProviderRejected`` when no signing key is configured."""
        try:
            return self._signer.sign(live_stream_id, ttl_seconds=TOKEN_TTL_SECONDS, audience=STATS_AUDIENCE).token
        except ProviderRejected as e:
            raise ProviderRejected(PROVIDER, f"live stream health: {e.message}") from e

    async def live_health(self, ref: StreamRef) -> IngestHealth:
        """The live stream's ingest health (see the module docstring for the request and the answer)."""
        live_stream_id = _live_stream_id(ref)
        token = self.stats_token(live_stream_id)
        url = f"{self.settings.mux_stats_url.rstrip('/')}{HEALTH_PATH}"

        async def call() -> dict[str, Any]:
            async with httpx.AsyncClient(timeout=self.settings.provider_timeout_seconds) as client:
                response = await client.get(url, params={"token": token})
                response.raise_for_status()
                return response.json()

        body = await resilient(PROVIDER, call, translate=translate, **self._retries())
        return parse_health(body)

    # -- viewers (Mux Data real-time) ---------------------------------------------------------------------

    def _api(self) -> mux_python.MonitoringApi:
        s = self.settings
        if not s.mux_token_id or s.mux_token_secret is None:
            raise ProviderRejected(PROVIDER, "Mux Data needs LIVECAST_MUX_TOKEN_ID and LIVECAST_MUX_TOKEN_SECRET")
        if self._monitoring is None:
            config = mux_python.Configuration(
                host=s.mux_api_url.rstrip("/"), username=s.mux_token_id, password=s.mux_token_secret.get_secret_value()
            )
            config.retries = False  # retries are ours (tenacity), not urllib3's
            self._monitoring = mux_python.MonitoringApi(mux_python.ApiClient(config))
        return self._monitoring

    async def stream_viewers(self, ref: StreamRef) -> int:
        """Concurrent viewers of one live stream now (sum of the breakdown rows' ``concurrent_viewers``)."""
        live_stream_id = _live_stream_id(ref)
        api = self._api()
        response = await in_thread(
            PROVIDER,
            lambda: api.get_monitoring_breakdown(
                CCV_METRIC,
                dimension=CCV_DIMENSION,
                filters=[f"live_stream_id:{live_stream_id}"],
                _request_timeout=self.settings.provider_timeout_seconds,
            ),
            translate=sdk_translate,
            **self._retries(),
        )
        return sum(max(0, row.concurrent_viewers or 0) for row in response.data or [])

    async def current_viewers(self, refs: Sequence[StreamRef]) -> ViewerCounts:
        """Concurrent viewers of each stream (at most :data:`CONCURRENCY` requests at once); a stream whose
        count failed is in ``errors`` with its ``ProviderError``."""
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(ref: StreamRef) -> int | ProviderError:
            async with gate:
                try:
                    return await self.stream_viewers(ref)
                except ProviderError as e:
                    return e

        keyed = [(ref.provider_stream_id or "", ref) for ref in refs]
        results = await asyncio.gather(*(one(ref) for _, ref in keyed))
        counts: dict[str, int] = {}
        errors: dict[str, ProviderError] = {}
        for (key, _), result in zip(keyed, results, strict=True):
            if isinstance(result, ProviderError):
                errors[key] = result
            else:
                counts[key] = result
        return ViewerCounts(counts=counts, errors=errors)

    def _retries(self) -> dict[str, Any]:
        return {"attempts": self.settings.provider_retry_attempts, "timeout": self.settings.provider_timeout_seconds}


def _live_stream_id(ref: StreamRef) -> str:
    if not ref.provider_stream_id:
        raise ProviderNotFound(PROVIDER, "the stream has no Mux live stream id")
    return ref.provider_stream_id


def parse_health(body: Any) -> IngestHealth:
    """``IngestHealth`` from a ``live-stream-health`` answer; ``ProviderRejected`` for any other shape.
    No row (``"data": []``) means Mux has nothing on the stream: ``UNKNOWN``."""
    try:
        rows = body["data"]
        if not rows:
            return IngestHealth(status="UNKNOWN")
        health = rows[0]["ingest_health"]
        status = STATUSES.get(str(health.get("status", "unknown")).lower(), "UNKNOWN")
        return IngestHealth(
            status=status,
            drift_avg_ms=_number(health.get("stream_drift_session_avg")),
            drift_deviation_ms=_number(health.get("stream_drift_deviation_from_rolling_avg")),
            measured_at=_timestamp(health.get("updated_at")),
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise ProviderRejected(PROVIDER, f"unexpected live-stream-health answer: {e!r}") from e


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
