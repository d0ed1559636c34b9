"""Expected failures as schema types: an ``Error`` interface with a stable ``code``, one type per code.

Mutations return a union of their result and these types; queries and subscriptions raise a GraphQL error
whose ``extensions.code`` is the same code.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError

from livecast.domain import errors as domain
from livecast.schema.enums import StreamStatus
from livecast.schema.error_policy import domain_extensions

ErrorCode = strawberry.enum(domain.ErrorCode, name="ErrorCode", description="Stable machine-readable error codes.")


@strawberry.interface(description="An expected failure. Switch on `code`; show `message` to people.")
class Error:
    code: ErrorCode
    message: str


@strawberry.type(description="Input broke a rule; `field` names the input field (camelCase).")
class ValidationError(Error):
    field: str | None


@strawberry.type
class NotFoundError(Error):
    pass


@strawberry.type(description="Signed in, but not allowed (e.g. not the stream's owner or an admin).")
class ForbiddenError(Error):
    pass


@strawberry.type(description="No valid access token: send `Authorization: Bearer <token>`.")
class UnauthenticatedError(Error):
    pass


@strawberry.type(description="The stream's status does not allow this (e.g. ending a SCHEDULED stream).")
class InvalidStateError(Error):
    current_status: StreamStatus


@strawberry.type(
    description="The media provider refused (`PROVIDER_ERROR`) or could not be reached after retries "
    "(`PROVIDER_UNAVAILABLE`: try again later); nothing changed."
)
class ProviderError(Error):
    retryable: bool = strawberry.field(description="True for `PROVIDER_UNAVAILABLE`: the same request may work later.")


@strawberry.type(description="Banned or timed out from this stream's chat and reactions.")
class BannedError(Error):
    until: datetime | None = strawberry.field(description="When a timeout ends; null for a ban.")


@strawberry.type(description="Slow mode is on in this chat.")
class SlowModeError(Error):
    retry_after: float = strawberry.field(description="Seconds to wait before the next message.")


@strawberry.type(description="Too many actions in a period (chat messages, reactions, new streams).")
class RateLimitedError(Error):
    retry_after: float = strawberry.field(description="Seconds to wait before trying again.")


def to_error_type(e: domain.DomainError) -> Error:
    """The schema error object for a domain error."""
    if isinstance(e, domain.ValidationFailed):
        return ValidationError(code=e.code, message=e.message, field=e.field)
    if isinstance(e, domain.InvalidState):
        return InvalidStateError(code=e.code, message=e.message, current_status=StreamStatus(e.current_status))
    if isinstance(e, domain.Banned):
        return BannedError(code=e.code, message=e.message, until=e.until)
    if isinstance(e, domain.SlowMode):
        return SlowModeError(code=e.code, message=e.message, retry_after=e.retry_after)
    if isinstance(e, domain.RateLimited):
        return RateLimitedError(code=e.code, message=e.message, retry_after=e.retry_after)
    if isinstance(e, domain.ProviderFailed):
        return ProviderError(code=e.code, message=e.message, retryable=isinstance(e, domain.ProviderDown))
    by_code = {
        domain.ErrorCode.NOT_FOUND: NotFoundError,
        domain.ErrorCode.FORBIDDEN: ForbiddenError,
        domain.ErrorCode.UNAUTHENTICATED: UnauthenticatedError,
    }
    return by_code[e.code](code=e.code, message=e.message)


def to_graphql_error(e: domain.DomainError) -> GraphQLError:
    """For queries and subscriptions: a GraphQL error with ``extensions.code`` (and ``field`` if any)."""
    return GraphQLError(e.message, extensions=domain_extensions(e), original_error=e)
