"""The Strawberry extension that applies :mod:`livecast.schema.limits` to every operation (HTTP and websockets).

It replaces Strawberry's ``ParserCache``, ``ValidationCache``, ``QueryDepthLimiter`` and ``MaxAliasesLimiter``:

* **parse**: graphql-core's parser with ``max_lexical_tokens`` / ``max_comments``; parsed documents and their
  validation verdicts are cached per query text in an LRU bounded by the *total length* of the texts it keeps
  (:attr:`~livecast.schema.limits.QueryLimits.cache_chars`): a parsed document costs ~130 bytes of memory per
  character of query, so a count-bounded cache of large documents could pin gigabytes;
* **checks** before validation: several operations without ``operationName`` (``BAD_REQUEST``), then aliases,
  depth and cost (``QUERY_TOO_COMPLEX``), all linear in the document;
* **validation**: the spec's rules (plus Strawberry's, plus "no introspection" when it is off) with
  suggestions hidden when configured, stopped after ``validation_seconds`` (``QUERY_TOO_COMPLEX``; a verdict
  reached that way is not cached, so a slow moment never condemns a good document).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, ValidationRule, validate
from graphql.validation.rules.custom.no_schema_introspection import NoSchemaIntrospectionCustomRule
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from livecast.domain.errors import ErrorCode
from livecast.schema.limits import QueryLimits, check_document

TIME_LIMIT = "time"
logger = logging.getLogger(__name__)


@dataclass
class _Entry:
    document: DocumentNode
    verdict: list[GraphQLError] | None = None
    """The spec's validation errors, once known."""
    limits: list[GraphQLError] | None = None
    """The limits' verdict ([] or [refusal]) once known for every request of this text (no ``first: $n``)."""


class DocumentCache:
    """Parsed documents and validation verdicts by query text; LRU within ``budget`` characters of text."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, query: str) -> _Entry | None:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
        return entry

    def put(self, query: str, document: DocumentNode) -> None:
        if len(query) * 32 > self.budget or query in self._entries:  # large documents are rare, and costly to keep
            return
        self._entries[query] = _Entry(document)
        self.used += len(query)
        while self.used > self.budget:
            old, _ = self._entries.popitem(last=False)
            self.used -= len(old)

    def __len__(self) -> int:
        return len(self._entries)


class _Deadline(ValidationRule):
    """Stops the spec's validation once ``deadline`` (``time.monotonic()``) has passed."""

    deadline = float("inf")
    seconds = 0.0

    def enter(self, *_: Any) -> None:
        if time.monotonic() > self.deadline:
            raise ValidationAbortedError(
                f"validation took longer than {self.seconds:g} s; simplify the document",
                extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value, "limit": TIME_LIMIT, "maximum": self.seconds},
            )


class QueryGuard(SchemaExtension):
    """Per operation (Strawberry makes one per request from :meth:`factory`); see the module docstring."""

    def __init__(self, limits: QueryLimits, cache: DocumentCache) -> None:
        self.limits = limits
        self.cache = cache
        self._entry: _Entry | None = None

    @classmethod
    def factory(cls, limits: QueryLimits) -> Callable[[], QueryGuard]:
        cache = DocumentCache(limits.cache_chars)
        return lambda: cls(limits, cache)

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options.update(self.limits.parse_options())
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query and context.graphql_document is None:
            self._entry = self.cache.get(query)
            if self._entry is not None:
                context.graphql_document = self._entry.document
        yield  # on a miss Strawberry parses (with the options above); a syntax error leaves no document
        if query and self._entry is None and context.graphql_document is not None:
            self.cache.put(query, context.graphql_document)
            self._entry = self.cache.get(query)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.pre_execution_errors = self._refusal() or self._verdict()
        except Exception as e:
            logger.exception("GraphQL document checks failed")
            masked = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value}
            context.pre_execution_errors = [GraphQLError("Unexpected error.", extensions=masked, original_error=e)]
        yield

    def _refusal(self) -> list[GraphQLError] | None:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        operations = sum(1 for d in document.definitions if isinstance(d, OperationDefinitionNode))
        if operations > 1 and getattr(context, "_provided_operation_name", None) is None:
            message = "the document has several operations: name the one to run in `operationName`"
            return [GraphQLError(message, extensions={"code": ErrorCode.BAD_REQUEST.value})]
        entry = self._entry
        if entry is not None and entry.limits is not None:
            return entry.limits or None
        refused, varies = check_document(self.limits, document, context.schema._schema, context.variables)
        verdict = [refused] if refused is not None else []
        if entry is not None and not varies:
            entry.limits = verdict
        return verdict or None

    def _verdict(self) -> list[GraphQLError]:
        entry = self._entry
        if entry is not None and entry.verdict is not None:
            return entry.verdict
        context = self.execution_context
        seconds = self.limits.validation_seconds
        deadline = type("Deadline", (_Deadline,), {"deadline": time.monotonic() + seconds, "seconds": seconds})
        rules = [deadline, *context.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule]
        if not self.limits.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        document = context.graphql_document
        errors = validate(context.schema._schema, document, rules, hide_suggestions=not self.limits.suggestions)
        timed_out = any((e.extensions or {}).get("limit") == TIME_LIMIT for e in errors)
        if entry is not None and not timed_out:
            entry.verdict = errors
        return errors
