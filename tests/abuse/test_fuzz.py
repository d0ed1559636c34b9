"""Property-based fuzzing of ``/graphql`` on a real ``livecast serve`` with ``hypothesis-graphql``: documents built
from the real schema (valid queries and mutations, and invalid ones), anonymous and signed in. Whatever the
document, the answer is JSON with ``data`` or ``errors``, never a 500, and never an unexpected server error
(``INTERNAL_SERVER_ERROR``, i.e. an exception a resolver did not expect)."""

from __future__ import annotations

import os
from datetime import UTC
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

from livecast.schema.root import build_schema
from tests.abuse.conftest import Target

EXAMPLES = int(os.environ.get("LIVECAST_FUZZ_EXAMPLES", "500"))
"""Examples per test (4 tests): 500 by default, so at least 2,000 in all."""
SDL = build_schema().as_str()
SCALARS = {
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(lambda d: graphql.StringValueNode(value=d.isoformat())),
}
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip


@pytest.fixture
async def session(target: Target) -> dict[str, Any]:
    return {"target": target, "token": await target.token("fuzzer")}


def check(target: Target, document: str, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(target.graphql_url, json={"query": document}, headers=headers, timeout=10)
    assert response.status_code < 500, (response.status_code, document, response.text[:500])
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), (document, body)
    codes = [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]
    assert None not in codes and "INTERNAL_SERVER_ERROR" not in codes, (document, body)


@FUZZ
@given(document=queries(SDL, custom_scalars=SCALARS) | mutations(SDL, custom_scalars=SCALARS), signed_in=st.booleans())
def test_valid_documents(session: dict[str, Any], document: str, signed_in: bool) -> None:
    check(session["target"], document, session["token"] if signed_in else None)


@FUZZ
@given(document=queries(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE) | mutations(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
       signed_in=st.booleans())  # fmt: skip
def test_invalid_documents(session: dict[str, Any], document: str, signed_in: bool) -> None:
    check(session["target"], document, session["token"] if signed_in else None)


@FUZZ
@given(document=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text(session: dict[str, Any], document: str) -> None:
    check(session["target"], document, None)


@FUZZ
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
                         lambda children: st.lists(children, max_size=4) | st.dictionaries(
                             st.sampled_from(["query", "variables", "operationName", "extensions", "x"]), children, max_size=4),
                         max_leaves=12))  # fmt: skip
def test_arbitrary_json_bodies(session: dict[str, Any], body: object) -> None:
    response = httpx.post(session["target"].graphql_url, json=body, timeout=10)
    assert response.status_code < 500, (response.status_code, body, response.text[:500])
    answer = response.json()
    assert isinstance(answer, dict) and ("data" in answer or "errors" in answer), (body, answer)
