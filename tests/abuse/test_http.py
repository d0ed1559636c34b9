"""Attack 4 (and the HTTP part of 3 and 11): request bodies, slow clients, oversized headers and malformed JSON
against a real ``livecast serve``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import httpx

from tests.abuse.conftest import DEADLINE, Target, assert_graphql_refused, assert_refused, graphql_codes, start_target

MALFORMED_BODIES = {
    "invalid UTF-8": b'{"query": "\xff\xfe{ me { id } }"}',
    "null": b"null",
    "a string": b'"{ me { id } }"',
    "a number": b"12",
    "nested too deeply": b"[" * 200_000 + b"]" * 200_000,
    "not JSON": b"{query",
}


async def post(target: Target, content: bytes, headers: dict[str, str] | None = None) -> tuple[httpx.Response, float]:
    async with httpx.AsyncClient(timeout=5) as client:
        started = time.monotonic()
        response = await client.post(target.graphql_url, content=content,
                                     headers={"Content-Type": "application/json", **(headers or {})})  # fmt: skip
        return response, time.monotonic() - started


async def test_malformed_bodies_get_400_with_a_code(target: Target) -> None:
    async with target.attack(requests=len(MALFORMED_BODIES)):
        for name, body in MALFORMED_BODIES.items():
            response, elapsed = await post(target, body)
            assert_refused(response, elapsed, status=400)
            assert graphql_codes(response.json()) == ["BAD_REQUEST"], name


async def test_a_body_over_the_limit_is_refused_before_it_is_read(target: Target) -> None:
    big = json.dumps({"query": "{ me { id } }", "variables": {"x": "a" * (2 * 1024 * 1024)}}).encode()
    async with target.attack(requests=2):
        response, elapsed = await post(target, big)  # declared in Content-Length
        assert_refused(response, elapsed, status=413)
        assert graphql_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]

        reader, writer = await asyncio.open_connection("127.0.0.1", target.http_port)  # chunked: no length declared
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        started, answer = time.monotonic(), b""
        for _ in range(64):  # 4 MiB if nobody stops us
            writer.write(b"10000\r\n" + b"a" * 65536 + b"\r\n")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(4096), 0.05)
                break
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert time.monotonic() - started < DEADLINE
        writer.close()


async def test_subscriptions_over_http_and_mutations_over_get_are_refused_with_a_code(target: Target) -> None:
    async with target.attack(requests=2):
        started = time.monotonic()
        status, body = await target.graphql("subscription { liveStreamsChanged { id status } }")
        assert status == 400
        assert_graphql_refused(status, body, time.monotonic() - started, "BAD_REQUEST")
        async with httpx.AsyncClient(timeout=5) as client:
            started = time.monotonic()
            response = await client.get(
                target.graphql_url, params={"query": 'mutation { endStream(streamId: "x") { __typename } }'}
            )
        assert_refused(response, time.monotonic() - started, status=400)
        assert graphql_codes(response.json()) == ["BAD_REQUEST"]


async def test_out_of_range_inputs_get_codes_not_unexpected_errors(target: Target) -> None:
    token = await target.token("abuse-http")
    documents = {
        '{ streams(after: "99999999999999999999999999999999") { edges { cursor } } }': None,
        '{ chatMessages(streamId: "00000000-0000-0000-0000-000000000000", after: "99999999999999999999999") { edges { cursor } } }': None,
        '{ stream(id: "not-a-uuid") { id } }': None,
        "{ streams(first: 2147483648) { edges { cursor } } }": None,
        "query A { me { id } } query B { me { name } }": None,
    }
    async with target.attack(requests=len(documents) * 2):
        for document in documents:
            for bearer in (None, token):
                started = time.monotonic()
                status, body = await target.graphql(document, token=bearer)
                if body.get("errors"):
                    assert_graphql_refused(status, body, time.monotonic() - started)


async def test_slow_and_silent_clients_are_cut_off(abuse_db: str, tmp_path: Path) -> None:
    """One byte every 0.3 s, or nothing at all: closed at the header deadline; 100 such connections cost the
    server nothing else."""
    async with start_target(abuse_db, tmp_path, http_header_timeout_seconds="1") as target:
        async with target.attack(requests=101):
            silent = [await asyncio.open_connection("127.0.0.1", target.http_port) for _ in range(100)]
            reader, writer = await asyncio.open_connection("127.0.0.1", target.http_port)
            started = time.monotonic()
            answer = b""
            for byte in b"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                writer.write(bytes([byte]))
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                with contextlib.suppress(TimeoutError):
                    answer = await asyncio.wait_for(reader.read(), 0.3)
                    break
            closed_after = time.monotonic() - started
            assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
            assert closed_after < 1 + DEADLINE
            for silent_reader, _ in silent:  # all closed by now (they connected before the slow one)
                assert (await asyncio.wait_for(silent_reader.read(), DEADLINE)).startswith(b"HTTP/1.1 408")
            for _, silent_writer in [*silent, (reader, writer)]:
                silent_writer.close()


async def test_oversized_headers_get_431(target: Target) -> None:
    async with target.attack(requests=1):
        reader, writer = await asyncio.open_connection("127.0.0.1", target.http_port)
        started = time.monotonic()
        writer.write(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(200))
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        answer = await asyncio.wait_for(reader.read(), DEADLINE)
        assert time.monotonic() - started < DEADLINE
        assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
        writer.close()


async def test_many_large_distinct_documents_do_not_pin_memory(target: Target) -> None:
    """Each document is just under the token limit and different: none may stay in a parse cache for long."""
    async with target.attack(requests=200):
        for i in range(200):
            fields = " ".join(f"a{i}_{j}: __typename" for j in range(90))
            document = f"query Q{i} {{ {fields} }} " + " ".join(
                f"fragment F{i}_{j} on Query {{ __typename }}" for j in range(240)
            )
            status, body = await target.graphql(document)
            assert status < 500 and isinstance(body, dict), (status, body)
