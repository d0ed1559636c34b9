"""``POST /webhooks/{provider}``: provider webhooks in (``mux``, ``livekit``), verified, stored, answered fast.

Responses (JSON ``{"code", "message"}`` on errors; nothing is stored unless 200):

* 200 ``{"id", "status", "duplicate"}``: stored (``PENDING``, or ``SKIPPED`` when no livecast stream matches),
  or a duplicate delivery of an event stored before (acknowledged, ignored).
* 401: the delivery did not verify (missing/malformed signature header, wrong signature, stale timestamp,
  altered body, not a provider event). 404: unknown provider, or its webhooks are not configured (Mux:
  ``LIVECAST_MUX_WEBHOOK_SECRET``; LiveKit: ``LIVECAST_LIVEKIT_API_KEY`` + ``LIVECAST_LIVEKIT_API_SECRET``).
  413: body over :data:`MAX_WEBHOOK_BYTES`. 422: ids too long for the inbox.

After storing a new event the route kicks the stream's apply job when this process runs the jobs (embedded);
otherwise the workers' periodic sweep applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from livecast.domain import webhooks
from livecast.domain.errors import ErrorCode, ValidationFailed
from livecast.http.bodies import BodyTooLarge, problem, read_body
from livecast.providers.base import ProviderEvent, WebhookRejected
from livecast.settings import Settings
from livecast.workers.webhooks import kick_apply

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024
"""Largest webhook body accepted (bytes); Mux and LiveKit events are a few KiB."""

Verifier = Callable[[bytes, Mapping[str, str]], ProviderEvent]


def webhook_verifier(settings: Settings, provider: str) -> Verifier | str:
    """The verifier for ``provider`` configured from ``settings``, or why there is none (a message)."""
    if provider == "mux":
        if settings.mux_webhook_secret is None:
            return "Mux webhooks are not configured: set LIVECAST_MUX_WEBHOOK_SECRET"
        from livecast.providers.mux.webhook import verify_mux_webhook

        secret, tolerance = settings.mux_webhook_secret.get_secret_value(), settings.webhook_tolerance_seconds
        return lambda body, headers: verify_mux_webhook(body, headers, secret=secret, tolerance_seconds=tolerance)
    if provider == "livekit":
        if not settings.livekit_api_key or settings.livekit_api_secret is None:
            return "LiveKit webhooks are not configured: set LIVECAST_LIVEKIT_API_KEY and LIVECAST_LIVEKIT_API_SECRET"
        from livecast.providers.livekit.webhook import verify_livekit_webhook

        key, secret = settings.livekit_api_key, settings.livekit_api_secret.get_secret_value()
        return lambda body, headers: verify_livekit_webhook(body, headers, api_key=key, api_secret=secret)
    return f"no webhooks for provider {provider!r} (known: mux, livekit)"


def webhook_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for ``/webhooks/{provider}``."""

    async def endpoint(request: Request) -> Response:
        verify = webhook_verifier(settings, request.path_params["provider"])
        if isinstance(verify, str):
            return problem(404, ErrorCode.NOT_FOUND.value, verify)
        try:
            body = await read_body(request, MAX_WEBHOOK_BYTES)
        except BodyTooLarge:
            return problem(413, ErrorCode.PAYLOAD_TOO_LARGE.value, f"a webhook is at most {MAX_WEBHOOK_BYTES} bytes")
        try:
            event = verify(body, request.headers)
        except WebhookRejected as e:
            return problem(401, ErrorCode.UNAUTHENTICATED.value, e.reason)
        try:
            receipt = await webhooks.record(event=event)
        except ValidationFailed as e:
            return problem(422, e.code.value, e.message)
        jobs = request.app.state.runtime.jobs
        if not receipt.duplicate and receipt.status == "PENDING" and receipt.stream_id and jobs is not None:
            try:
                await kick_apply(jobs.broker, receipt.stream_id)
            except Exception:  # stored: the sweep applies it
                logger.exception("webhook %s stored but its apply job was not kicked", receipt.id)
        return JSONResponse({"id": receipt.id, "status": receipt.status, "duplicate": receipt.duplicate})

    return endpoint
