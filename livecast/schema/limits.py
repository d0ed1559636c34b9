"""What one GraphQL document may cost, checked before the spec's validation and before execution.

Every check is linear in the size of the document: fragments are measured once each and their results reused
at every spread (a fragment spread twice by a fragment spread twice ... costs the server nothing extra to
measure, while the executor would resolve 2^k fields). Limits (all settings, see :class:`QueryLimits`):

* **tokens**: at most ``max_tokens`` lexical tokens (graphql-core's parser stops there), ``max_comments``
  comments and ``max_chars`` characters;
* **aliases**: at most ``max_aliases`` aliased fields written in the document;
* **depth**: at most ``max_depth`` nested selection sets, fragments expanded (GraphiQL's introspection query
  nests 15);
* **merge work**: the spec's "fields can merge" rule compares every pair of fields answering to the same
  response name in a selection set (fragments expanded), recursively: quadratic in the document (400 copies of
  ``streams { edges { node { id } } }`` took graphql-core 4 s to validate). Its work is bounded from the
  document (per pair, the product of the two subtrees' sizes) to ``max_merge_work``;
* **cost**: an estimate of the fields the executor would resolve: every field counts 1, and a field whose
  result is a list counts its whole selection ``first`` times (the argument's value, literal or variable, else
  the argument's default), or :attr:`QueryLimits.list_size` times for lists without ``first``; a connection's
  ``edges`` list is counted once (its field's ``first`` already multiplied it). Like GitHub's and Shopify's
  GraphQL cost, it is an upper bound computed from the document, not a measurement.
* **time**: the spec's validation itself stops after ``validation_seconds`` (a document that takes longer is
  refused; such a verdict is never cached).

A refusal is a GraphQL error with ``extensions.code`` ``QUERY_TOO_COMPLEX`` (and the measured value and limit)
before anything runs. A document with several operations and no ``operationName`` is refused with
``BAD_REQUEST`` (graphql-core would otherwise run the first one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)

from livecast.domain.errors import ErrorCode

EDGES = "edges"
"""A connection's list of edges: its ``first`` was counted on the connection field."""
PAGE_ARGUMENT = "first"


@dataclass(frozen=True)
class QueryLimits:
    """Per-document limits (settings ``LIVECAST_GRAPHQL_*``); see the module docstring for what each counts."""

    max_tokens: int = 2000
    max_comments: int = 1000
    max_chars: int = 64 * 1024
    """Characters of document text (whitespace, comments and strings included): every error's location is found
    by scanning the text, so its length multiplies the cost of each error."""
    max_aliases: int = 100
    max_depth: int = 20
    max_merge_work: int = 20_000
    max_cost: int = 10_000
    list_size: int = 10
    """Assumed length (items) of a list field without a ``first`` argument."""
    validation_seconds: float = 1.0
    cache_chars: int = 128 * 1024
    """Parsed documents and validation verdicts are cached for at most this many characters of query text in
    all (least recently used dropped first; ~130 bytes of memory per character)."""
    introspection: bool = True
    """``__schema``/``__type`` allowed (off: refused with ``GRAPHQL_VALIDATION_FAILED``)."""
    suggestions: bool = True
    """"Did you mean ...?" in validation errors (off: the schema's names are not revealed by guessing)."""

    def parse_options(self) -> dict[str, Any]:
        return {
            "max_lexical_tokens": self.max_tokens,
            "max_comments": self.max_comments,
            "max_source_length": self.max_chars,
        }


class TooComplex(GraphQLError):
    """A document over one of the :class:`QueryLimits` (``extensions.code`` ``QUERY_TOO_COMPLEX``)."""

    def __init__(self, message: str, *, limit: str, value: float, maximum: float) -> None:
        extensions = {"code": ErrorCode.QUERY_TOO_COMPLEX.value, "limit": limit, "value": value, "maximum": maximum}
        super().__init__(message, extensions=extensions)


def too_complex(limits: QueryLimits, document: Any, schema: GraphQLSchema, variables: Any) -> TooComplex | None:
    """The first limit the document passes (aliases, then depth and cost of each operation, then merge work), or
    ``None``."""
    return check_document(limits, document, schema, variables)[0]


def check_document(
    limits: QueryLimits, document: Any, schema: GraphQLSchema, variables: Any
) -> tuple[TooComplex | None, bool]:
    """:func:`too_complex`, and whether the verdict depends on ``variables`` (a ``first: $n``): when it does not,
    it holds for every request of this document."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    aliases = sum(1 for _ in _aliases(document))
    if aliases > limits.max_aliases:
        return TooComplex(
            f"the document has {aliases} aliases; at most {limits.max_aliases} are allowed",
            limit="aliases", value=aliases, maximum=limits.max_aliases,
        ), False  # fmt: skip
    measure = _Measure(schema, fragments, variables if isinstance(variables, dict) else {}, limits.list_size)
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        size = measure.selection(operation.selection_set, _root_type(schema, operation.operation))
        depth, cost = size.depth, size.cost
        if depth > limits.max_depth:
            return _refused(measure, TooComplex(
                f"the operation nests {depth} levels deep; at most {limits.max_depth} are allowed",
                limit="depth", value=depth, maximum=limits.max_depth,
            ))  # fmt: skip
        if cost > limits.max_cost:
            value = cost if cost < 10**15 else float("inf")
            return _refused(measure, TooComplex(
                f"the operation may resolve up to {cost:.3g} fields; at most {limits.max_cost} are allowed "
                f"(lower `first`, or split the query)",
                limit="cost", value=value, maximum=limits.max_cost,
            ))  # fmt: skip
    for name in fragments:  # validation visits unused fragments too
        measure.fragment(name)
    if measure.merge_work > limits.max_merge_work:
        return _refused(measure, TooComplex(
            "too many fields answer to the same names for them to be merged (e.g. the same field repeated); "
            "give them distinct aliases or remove the repeats",
            limit="merge", value=measure.merge_work, maximum=limits.max_merge_work,
        ))  # fmt: skip
    return None, measure.used_variables


def _refused(measure: _Measure, refusal: TooComplex) -> tuple[TooComplex, bool]:
    return refusal, measure.used_variables


def _aliases(document: Any) -> Iterator[FieldNode]:
    stack: list[SelectionSetNode] = [d.selection_set for d in document.definitions if getattr(d, "selection_set", None)]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode) and selection.alias is not None:
                yield selection
            nested = getattr(selection, "selection_set", None)
            if nested is not None:
                stack.append(nested)


def _root_type(schema: GraphQLSchema, operation: OperationType) -> GraphQLObjectType | None:
    if operation is OperationType.MUTATION:
        return schema.mutation_type
    if operation is OperationType.SUBSCRIPTION:
        return schema.subscription_type
    return schema.query_type


@dataclass(frozen=True)
class _Size:
    depth: int
    cost: int
    fields: int
    """Fields in the selection set and below, as written (fragments expanded), for merge work."""
    groups: dict[str, list[int]]
    """Per response name at this level (through fragments): [fields, sum and sum of squares of subtree sizes]."""


def _add(groups: dict[str, list[int]], name: str, count: int, total: int, squares: int) -> None:
    group = groups.get(name)
    if group is None:
        groups[name] = [count, total, squares]
    else:
        group[0] += count
        group[1] += total
        group[2] += squares


def _unwrap(type_: Any) -> tuple[GraphQLNamedType, bool]:
    """The named type behind a field's type and whether any wrapper is a list."""
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return type_, is_list


class _Measure:
    """Depth, cost and merge work of selection sets; each fragment is measured once (a cycle counts nothing:
    validation reports it)."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any],
                 list_size: int) -> None:  # fmt: skip
        self.schema, self.fragments, self.variables, self.list_size = schema, fragments, variables, list_size
        self.done: dict[str, _Size] = {}
        self.active: set[str] = set()
        self.merge_work = 0
        self.used_variables = False
        """Whether a ``first`` came from a variable (the cost depends on the request, not only the document)."""
        """Field pairs the spec's "fields can merge" rule may compare, summed over every selection set."""

    def fragment(self, name: str) -> _Size:
        known = self.done.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return _Size(0, 0, 0, {})
        self.active.add(name)
        try:
            type_ = self.schema.get_type(definition.type_condition.name.value)
            known = self.done[name] = self.selection(definition.selection_set, type_)
        finally:
            self.active.discard(name)
        return known

    def selection(self, selection_set: SelectionSetNode, parent: Any) -> _Size:
        """The size of a selection set on ``parent`` (a named type, or ``None`` when unknown). Fragments spread
        into it and inline fragments are at its level: their fields merge with its fields of the same response
        name, and the rule compares every such pair, recursively (work: the product of their subtree sizes)."""
        depth, cost, fields, groups = 1, 0, 0, dict[str, list[int]]()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                sub_depth, sub_cost, sub_fields = self.field(selection, parent)
                depth, cost, fields = max(depth, sub_depth), cost + sub_cost, fields + sub_fields
                _add(groups, (selection.alias or selection.name).value, 1, sub_fields, sub_fields * sub_fields)
                continue
            if isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.selection(
                    selection.selection_set, self.schema.get_type(condition.name.value) if condition else parent
                )
            else:
                continue
            depth, cost, fields = max(depth, inner.depth), cost + inner.cost, fields + inner.fields
            for name, (count, total, squares) in inner.groups.items():
                _add(groups, name, count, total, squares)
        self.merge_work += sum((total * total - squares) // 2 for count, total, squares in groups.values() if count > 1)
        return _Size(depth, cost, fields, groups)

    def field(self, node: FieldNode, parent: Any) -> tuple[int, int, int]:
        """(depth, cost, fields in its subtree including itself) of a field: a leaf is 0 levels, costs 1."""
        field_def = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            field_def = parent.fields.get(node.name.value)
        if node.selection_set is None:
            return 0, 1, 1
        named, is_list = _unwrap(field_def.type) if field_def is not None else (None, False)
        inner = self.selection(node.selection_set, named)
        return 1 + inner.depth, 1 + self.multiplier(node, field_def, is_list) * inner.cost, 1 + inner.fields

    def multiplier(self, node: FieldNode, field_def: Any, is_list: bool) -> int:
        """How many times the field's selection may be resolved: its ``first``, else 1, or the default list
        size for a list without ``first`` (a connection's ``edges``: 1)."""
        argument = next((a for a in node.arguments or () if a.name.value == PAGE_ARGUMENT), None)
        if argument is not None or (field_def is not None and PAGE_ARGUMENT in field_def.args):
            first = self.int_value(argument.value if argument is not None else None, field_def)
            return max(1, first)
        if is_list and node.name.value != EDGES:
            return self.list_size
        return 1

    def int_value(self, value: Any, field_def: Any) -> int:
        if isinstance(value, IntValueNode):
            return _bounded_int(value.value)
        if isinstance(value, VariableNode):
            self.used_variables = True
            given = self.variables.get(value.name.value)
            if isinstance(given, int) and not isinstance(given, bool):
                return given
        default = field_def.args[PAGE_ARGUMENT].default_value if field_def is not None else None
        return default if isinstance(default, int) and not isinstance(default, bool) else self.list_size


def _bounded_int(text: str) -> int:
    """An integer literal's value; absurdly long literals count as huge (never converted digit by digit)."""
    return int(text) if len(text) <= 18 else 10**18
