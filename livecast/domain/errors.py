"""Domain errors with stable codes. The GraphQL layer maps each to a typed error of the same code."""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_STATE = "INVALID_STATE"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    EVENTS_MISSED = "EVENTS_MISSED"
    """A subscription lost events (event bus outage): refetch, then subscribe again."""
    SLOW_CONSUMER = "SLOW_CONSUMER"
    """A subscriber fell too far behind and was ended."""


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
    """The media provider refused or could not be reached; nothing was changed."""

    code = ErrorCode.PROVIDER_ERROR
