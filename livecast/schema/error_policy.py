"""What a client sees of an error, and what the log keeps of it.

Every error in a response carries ``extensions.code`` (an :class:`~livecast.domain.errors.ErrorCode` value):

* ``GRAPHQL_PARSE_FAILED``: not GraphQL syntax; ``QUERY_TOO_COMPLEX`` when the parser stopped at the token limit;
* ``GRAPHQL_VALIDATION_FAILED``: the document does not fit the schema (unknown field, wrong argument type, ...);
* ``BAD_USER_INPUT``: a variable's value does not fit its type;
* a domain code (``UNAUTHENTICATED``, ``VALIDATION``, ``NOT_FOUND``, ...) for a :class:`DomainError` a resolver
  let through, with its message (and ``field`` / ``retryAfter``);
* ``INTERNAL_SERVER_ERROR`` with the message "Unexpected error." for anything else: a defect, masked.

Logging: only unexpected errors are logged at ERROR, once, with their traceback; errors a client caused by its
input are logged at DEBUG in one line (an attacker must not be able to fill the log).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors

from livecast.domain.errors import DomainError, ErrorCode, RateLimited, SlowMode, ValidationFailed

logger = logging.getLogger("livecast.graphql")

MASKED_MESSAGE = "Unexpected error."
TOKEN_LIMIT_MARK = "Parsing aborted."
"""How graphql-core's parser ends its message when a token, comment or length limit stops it (tests/test_query_limits.py)."""


def domain_extensions(error: DomainError) -> dict[str, Any]:
    """``extensions`` of a domain error: its code, and ``field`` / ``retryAfter`` where it has them."""
    extensions: dict[str, Any] = {"code": error.code.value}
    if isinstance(error, ValidationFailed) and error.field:
        extensions["field"] = error.field
    if isinstance(error, SlowMode | RateLimited):
        extensions["retryAfter"] = error.retry_after
    return extensions


def is_expected(error: GraphQLError) -> bool:
    """Whether a client caused this error by its request (anything but a defect of ours)."""
    original = error.original_error
    return (
        original is None
        or isinstance(original, GraphQLError | DomainError)
        or bool((error.extensions or {}).get("code"))
    )


def with_code(error: GraphQLError, *, validating: bool = False) -> GraphQLError:
    """The error as the client gets it: coded, and masked when unexpected (module docstring)."""
    if (error.extensions or {}).get("code"):
        return error
    original = error.original_error
    if isinstance(original, DomainError):
        return _copy(error, original.message, domain_extensions(original))
    if not is_expected(error):
        return _copy(error, MASKED_MESSAGE, {"code": ErrorCode.INTERNAL_SERVER_ERROR.value})
    if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
        too_long = TOKEN_LIMIT_MARK in error.message
        code = ErrorCode.QUERY_TOO_COMPLEX if too_long else ErrorCode.GRAPHQL_PARSE_FAILED
    elif validating:
        code = ErrorCode.GRAPHQL_VALIDATION_FAILED
    else:
        code = ErrorCode.BAD_USER_INPUT
    return _copy(error, error.message, {**(error.extensions or {}), "code": code.value})


def _copy(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, extensions=extensions)  # fmt: skip


def log_errors(errors: list[GraphQLError]) -> None:
    """``Schema.process_errors``: one ERROR record with traceback per unexpected error, DEBUG for the rest."""
    for error in errors:
        if is_expected(error):
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("request refused: %s %s", (error.extensions or {}).get("code", ""), error.message[:200])
            continue
        original = error.original_error
        assert original is not None
        logger.error(
            "resolver failed at %s: %r",
            error.path,
            original,
            exc_info=(type(original), original, original.__traceback__),
        )


class CodedErrors(MaskErrors):
    """Strawberry's ``MaskErrors`` hooks with :func:`with_code` as the rule (results without errors untouched:
    ``MaskErrors`` would check each against a runtime ``Protocol``, several µs per subscription event)."""

    def __init__(self) -> None:
        super().__init__()
        self._validation_errors: set[int] = set()

    def on_validate(self) -> Iterator[None]:
        yield
        self._validation_errors = {id(e) for e in self.execution_context.pre_execution_errors or ()}

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [with_code(e, validating=id(e) in self._validation_errors) for e in errors]

    def _process_result(self, result: object) -> None:
        if getattr(result, "errors", None):
            super()._process_result(result)
