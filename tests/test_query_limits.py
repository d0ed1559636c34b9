"""The per-document GraphQL limits and error codes (``livecast.schema.limits``, ``.guard``, ``.error_policy``) on
the real schema, executed in process (no database is touched: every document here is refused or resolves
nothing)."""

from __future__ import annotations

import logging

import pytest
from graphql import get_introspection_query, parse

from livecast.schema.error_policy import TOKEN_LIMIT_MARK
from livecast.schema.guard import DocumentCache
from livecast.schema.limits import QueryLimits
from livecast.schema.root import build_schema
from tests.abuse.test_graphql_cost import fragment_bomb

STREAMS = "query($n: Int!) { streams(first: $n) { edges { node { id title owner { id name } } } } }"


async def run(
    query: str, limits: QueryLimits | None = None, **kwargs: object
) -> tuple[object, list[dict[str, object]]]:
    result = await build_schema(limits).execute(query, **kwargs)  # type: ignore[arg-type]
    return result.data, [{"message": e.message, **(e.extensions or {})} for e in result.errors or []]


async def test_a_fragment_bomb_is_measured_once_per_fragment() -> None:
    """30 fragments each spreading the next twice: 2^30 fields for the executor, 31 fragments to measure."""
    _, errors = await run(fragment_bomb(30))  # expanded, this would not end today
    assert [(e["code"], e["limit"]) for e in errors] == [("QUERY_TOO_COMPLEX", "cost")]
    assert errors[0]["value"] == 2**31  # `me { id }` (2 fields) on each of the 2^30 paths


async def test_cost_multiplies_lists_by_first_from_literals_variables_and_defaults() -> None:
    limits = QueryLimits(max_cost=500)
    _, errors = await run(STREAMS, limits, variable_values={"n": 100})
    assert [(e["code"], e["limit"]) for e in errors] == [("QUERY_TOO_COMPLEX", "cost")]
    assert errors[0]["value"] == 1 + 100 * (
        1 + 1 + 1 + 1 + (1 + 2)
    )  # streams + first x (edges node id title owner{id name})
    literal = "{ streams(first: 10) { edges { node { id title owner { id name } } } } }"
    _, errors = await run(literal, QueryLimits(max_cost=70))
    assert errors[0]["value"] == 1 + 10 * 7
    _, errors = await run("{ streams { edges { node { id } } } }", QueryLimits(max_cost=40))  # default first: 20
    assert errors[0]["value"] == 1 + 20 * 3
    _, errors = await run("{ streams { edges { node { moderators { id } } } } }", QueryLimits(max_cost=40))
    assert errors[0]["value"] == 1 + 20 * (1 + 1 + (1 + 10 * 1))  # a list without `first`: 10 items


async def test_depth_counts_through_fragments() -> None:
    nested = "query { __schema { types { ...T } } } fragment T on __Type { fields { type { " + "ofType { " * 20 + \
             "name" + " }" * 20 + " } } }"  # fmt: skip
    _, errors = await run(nested)
    assert [(e["code"], e["limit"]) for e in errors] == [("QUERY_TOO_COMPLEX", "depth")]
    assert errors[0]["value"] == 25
    _, errors = await run(get_introspection_query(descriptions=True, input_value_deprecation=True))  # GraphiQL's: 15
    assert errors == []


async def test_repeated_fields_are_refused_before_the_quadratic_merge_check() -> None:
    """400 copies of one field take graphql-core's OverlappingFieldsCanBeMerged seconds; the estimate refuses them
    first (the refusal's ``limit`` is the pre-check's, not validation's ``time``)."""
    repeated = "{ " + " ".join('stream(id: "x") { owner { id } }' for _ in range(400)) + " }"
    _, errors = await run(repeated, QueryLimits(max_tokens=5000))
    assert [(e["code"], e["limit"]) for e in errors] == [("QUERY_TOO_COMPLEX", "merge")]
    twice = '{ stream(id: "x") { id title } stream(id: "x") { id owner { id } } }'  # a legitimate repeat
    _, errors = await run(twice)
    assert not [e for e in errors if e["code"] == "QUERY_TOO_COMPLEX"]


async def test_aliases_and_tokens_are_limited() -> None:
    aliased = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(101)) + " }"
    _, errors = await run(aliased)
    assert [(e["code"], e["limit"]) for e in errors] == [("QUERY_TOO_COMPLEX", "aliases")]
    long = "{ me { " + "id " * 2100 + "} }"
    _, errors = await run(long)
    assert [e["code"] for e in errors] == ["QUERY_TOO_COMPLEX"]
    assert TOKEN_LIMIT_MARK in str(errors[0]["message"])  # the parser's wording the code depends on


async def test_validation_is_time_boxed_and_such_a_verdict_not_kept() -> None:
    limits = QueryLimits(validation_seconds=1e-9)
    _, errors = await run("{ streams { edges { node { id title } } } }", limits)
    assert [(e["code"], e["limit"]) for e in errors] == [("QUERY_TOO_COMPLEX", "time")]


async def test_several_operations_need_an_operation_name() -> None:
    document = "query A { __typename } query B { b: __typename }"
    _, errors = await run(document)
    assert [e["code"] for e in errors] == ["BAD_REQUEST"]
    data, errors = await run(document, operation_name="B")
    assert data == {"b": "Query"} and errors == []


async def test_each_error_is_coded() -> None:
    cases = {
        "{ me { id ": "GRAPHQL_PARSE_FAILED",
        "{ mee { id } }": "GRAPHQL_VALIDATION_FAILED",
        "query($n: Int!) { streams(first: $n) { edges { cursor } } }": "BAD_USER_INPUT",
    }
    for document, code in cases.items():
        _, errors = await run(document, variable_values={"n": "x"} if "$n" in document else None)
        assert [e["code"] for e in errors] == [code], (document, errors)


async def test_production_hides_introspection_and_suggestions() -> None:
    closed = QueryLimits(introspection=False, suggestions=False)
    _, errors = await run("{ __schema { types { name } } }", closed)
    assert errors and {e["code"] for e in errors} == {"GRAPHQL_VALIDATION_FAILED"}
    _, errors = await run('{ __type(name: "Stream") { name } }', closed)
    assert [e["code"] for e in errors] == ["GRAPHQL_VALIDATION_FAILED"]
    _, errors = await run("{ mee { id } }", closed)
    assert "Did you mean" not in str(errors[0]["message"])
    _, errors = await run("{ streams(status: LIV) { edges { cursor } } }", closed)
    assert "Did you mean" not in str(errors[0]["message"])
    _, open_errors = await run("{ mee { id } }")
    assert "Did you mean 'me'" in str(open_errors[0]["message"])
    data, errors = await run("{ __schema { queryType { name } } }")
    assert errors == [] and data == {"__schema": {"queryType": {"name": "Query"}}}


async def test_refusals_are_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="livecast.graphql")
    for document in ("{ me { id ", "{ mee { id } }", fragment_bomb(20)):
        await run(document)
    assert caplog.records and all(r.levelno == logging.DEBUG and not r.exc_info for r in caplog.records)


def test_the_document_cache_is_bounded_by_text_length() -> None:
    cache = DocumentCache(budget=3200)
    for i in range(100):
        query = f"{{ me {{ id }} }} # {i:03}" + " " * 80
        cache.put(query, parse(query))
    assert cache.used <= 3200 and len(cache) == 3200 // 100
    cache.put("x" * 101, parse("{ me { id } }"))  # over 1/32 of the budget: not kept
    assert cache.get("x" * 101) is None and len(cache) == 32
