"""Domain errors with stable codes. The GraphQL layer maps each to a typed error of the same code."""

from __future__ import annotations

from datetime import datetime
from enum import Enum


class ErrorCode(str, Enum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_STATE = "INVALID_STATE"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    """The media provider refused the request (bad input for it, quota, unsupported feature)."""
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    """The media provider could not be reached or kept failing after retries; try again later."""
    EVENTS_MISSED = "EVENTS_MISSED"
    """A subscription lost events (event bus outage): refetch, then subscribe again."""
    SLOW_CONSUMER = "SLOW_CONSUMER"
    """A subscriber fell too far behind and was ended."""
    BANNED = "BANNED"
    """Banned (or timed out) from this stream's chat and reactions."""
    SLOW_MODE = "SLOW_MODE"
    """Slow mode: wait ``retryAfter`` seconds before the next message."""
    RATE_LIMITED = "RATE_LIMITED"
    """Too many actions: wait ``retryAfter`` seconds."""
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    """The request's document is not GraphQL syntax."""
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    """The document does not fit the schema (unknown field, wrong argument type, introspection turned off, ...)."""
    BAD_USER_INPUT = "BAD_USER_INPUT"
    """A variable's value does not fit its declared type."""
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    """The document is over a limit (tokens, aliases, depth, cost, validation time); ``extensions`` say which."""
    BAD_REQUEST = "BAD_REQUEST"
    """The request itself is malformed: not a JSON object, several operations without ``operationName``, a
    subscription over plain HTTP (use a websocket), ..."""
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    """The request body is over its size limit (HTTP 413)."""
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    """An unexpected server error (a defect); its details are logged, not shown."""


class DomainError(Exception):
    """Base of every expected failure; ``code`` is stable, ``message`` is for people."""

    code: ErrorCode = ErrorCode.VALIDATION

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(DomainError):
    """Input broke a rule; ``field`` names the offending input field (camelCase, as in the schema)."""

    code = ErrorCode.VALIDATION

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class InvalidState(DomainError):
    """A lifecycle move that is not allowed from the stream's current status."""

    code = ErrorCode.INVALID_STATE

    def __init__(self, message: str, *, current_status: str) -> None:
        super().__init__(message)
        self.current_status = current_status


class ProviderFailed(DomainError):
    """The media provider refused the request; nothing was changed."""

    code = ErrorCode.PROVIDER_ERROR


class ProviderDown(ProviderFailed):
    """The media provider could not be reached (after retries); nothing was changed."""

    code = ErrorCode.PROVIDER_UNAVAILABLE


def provider_failure(message: str, error: Exception) -> ProviderFailed:
    """``ProviderDown`` for a :class:`~livecast.providers.base.ProviderUnavailable`, else ``ProviderFailed``.

    Use as ``raise provider_failure("could not ...", e) from e``; the provider's own message is appended.
    """
    from livecast.providers.base import ProviderUnavailable

    detail = f"{message}: {getattr(error, 'message', error)}"
    return ProviderDown(detail) if isinstance(error, ProviderUnavailable) else ProviderFailed(detail)


class Banned(DomainError):
    """The caller is banned from this stream's chat; ``until`` is ``None`` for a permanent ban."""

    code = ErrorCode.BANNED

    def __init__(self, message: str, *, until: datetime | None) -> None:
        super().__init__(message)
        self.until = until


class SlowMode(DomainError):
    """Slow mode is on; ``retry_after`` is in seconds."""

    code = ErrorCode.SLOW_MODE

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(DomainError):
    """Over the per-user rate limit; ``retry_after`` is in seconds."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
