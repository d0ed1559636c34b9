"""Malformed ids in every query and mutation that takes one: a ``NOT_FOUND`` or ``VALIDATION`` answer, never an
unexpected error (on PostgreSQL, an id that is not a UUID used to reach the driver; found by test_fuzz)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLEnumType, GraphQLID, GraphQLNonNull, GraphQLScalarType, get_named_type

from livecast.schema.root import build_schema
from tests.abuse.conftest import Target, graphql_codes

SAMPLES = {"Int": "1", "Float": "1.5", "Boolean": "true", "String": '"x"', "DateTime": '"2030-01-01T00:00:00Z"'}
BAD_IDS = ('""', '"not-a-uuid"', '"00000000-0000-0000-0000-00000000000g"', '"' + "9" * 100 + '"')


def calls() -> list[tuple[str, str]]:
    """(operation type, field) for every root field with an ``ID`` argument and only scalar required arguments;
    each ``ID`` argument is ``$id``."""
    schema = build_schema()._schema
    found = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name, field in root.fields.items():
            args, has_id = [], False
            for arg_name, arg in field.args.items():
                named = get_named_type(arg.type)
                if named is GraphQLID:
                    args.append(f"{arg_name}: $id")
                    has_id = True
                elif isinstance(arg.type, GraphQLNonNull):
                    if isinstance(named, GraphQLEnumType):
                        args.append(f"{arg_name}: {next(iter(named.values))}")
                    elif isinstance(named, GraphQLScalarType) and named.name in SAMPLES:
                        args.append(f"{arg_name}: {SAMPLES[named.name]}")
                    else:
                        break
            else:
                if has_id:
                    selection = "" if isinstance(get_named_type(field.type), GraphQLScalarType) else " { __typename }"
                    found.append((kind, f"{name}({', '.join(args)}){selection}"))
    return found


async def test_malformed_ids_never_cause_unexpected_errors(target: Target) -> None:
    token = await target.token("abuse-ids", roles=["admin"])
    documents = calls()
    assert len(documents) > 20, documents
    problems: list[Any] = []
    async with target.attack(requests=len(documents) * len(BAD_IDS)):
        for kind, call in documents:
            for bad in BAD_IDS:
                status, body = await target.graphql(
                    f"{kind}($id: ID!) {{ {call} }}", {"id": bad.strip('"')}, token=token
                )
                codes = graphql_codes(body) if isinstance(body, dict) else ["no JSON"]
                if status >= 500 or None in codes or "INTERNAL_SERVER_ERROR" in codes:
                    problems.append((call, bad, status, body))
    assert problems == []
