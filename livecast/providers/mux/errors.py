"""mux-python failures → :class:`~livecast.providers.base.ProviderError` (``translate`` for the resilience layer).

mux-python raises ``mux_python.rest.ApiException`` (subclasses ``NotFoundException``, ``UnauthorizedException``,
``ForbiddenException``, ``ServiceException``) for HTTP errors, with Mux's error body
``{"error": {"type": "invalid_parameters", "messages": ["..."]}}``; urllib3 errors for transport failures
(connection refused or reset, socket timeout); ``ValueError`` when its models refuse a value client-side.
"""

from __future__ import annotations

import json

import urllib3
from mux_python.exceptions import ApiException, OpenApiException

from livecast.providers.base import ProviderError, ProviderNotFound, ProviderRejected, ProviderUnavailable

PROVIDER = "mux"


def mux_message(error: ApiException) -> str:
    """Mux's own words from an error response (``error.messages`` joined), else the HTTP reason."""
    try:
        body = json.loads(error.body) if error.body else {}
        detail = body.get("error") or {}
        messages = [str(m) for m in detail.get("messages") or []]
        if messages:
            return "; ".join(messages)
        if detail.get("type"):
            return str(detail["type"])
    except (ValueError, AttributeError, TypeError):
        pass
    return str(error.reason or "no reason given")


def translate(error: BaseException) -> ProviderError:
    """404 → ``ProviderNotFound``; 429, 5xx and transport failures → ``ProviderUnavailable`` (retried);
    401/403 and other 4xx → ``ProviderRejected`` with Mux's message; client-side validation → ``ProviderRejected``;
    anything else → a plain ``ProviderError`` (not retried)."""
    if isinstance(error, ApiException):
        status = error.status or 0
        message = f"{mux_message(error)} (HTTP {status})" if status else str(error.reason)
        if status == 404:
            return ProviderNotFound(PROVIDER, message)
        if status == 0 or status == 429 or status >= 500:
            return ProviderUnavailable(PROVIDER, message)
        if status in (401, 403):
            return ProviderRejected(PROVIDER, f"the access token was refused: {message}")
        return ProviderRejected(PROVIDER, message)
    if isinstance(error, urllib3.exceptions.HTTPError | OSError):
        return ProviderUnavailable(PROVIDER, f"could not reach the Mux API: {type(error).__name__}: {error}")
    if isinstance(error, OpenApiException | ValueError | TypeError):
        return ProviderRejected(PROVIDER, f"invalid request: {error}")
    return ProviderError(PROVIDER, f"unexpected failure: {type(error).__name__}: {error}")
