"""``/graphql`` over HTTP: Strawberry's ASGI view with bounded, well-formed requests and JSON errors.

What a client gets for a request that is not a GraphQL request (never a 500, never a traceback in the log):

* a body over ``LIVECAST_GRAPHQL_MAX_BODY_BYTES`` (declared or sent): 413, code ``PAYLOAD_TOO_LARGE``; the rest
  of the body is not read;
* a body that is not UTF-8 JSON, JSON nested too deeply to decode, or JSON that is not an object (``null``, a
  string, a number; an array is a batch, which is not enabled): 400, code ``BAD_REQUEST``;
* ``query``, ``variables``, ``operationName`` or ``extensions`` of the wrong JSON type: 400, ``BAD_REQUEST``
  (Strawberry's checks);
* a subscription over plain HTTP (subscriptions need a websocket), a mutation over ``GET``: 400, ``BAD_REQUEST``;
* other HTTP refusals of Strawberry's (unsupported content type 400, method 405, GraphiQL turned off 404).

These bodies are ``{"errors": [{"message", "extensions": {"code"}}]}`` (JSON, as GraphQL over HTTP answers).
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema.base import BaseSchema

from livecast.domain.errors import ErrorCode
from livecast.http.bodies import BodyTooLarge
from livecast.http.ws_handlers import GuardedGraphQLWSHandler, GuardedTransportWSHandler
from livecast.schema.execution import SharedResultWebSocket

STATUS_CODES = {413: ErrorCode.PAYLOAD_TOO_LARGE, 404: ErrorCode.NOT_FOUND}
"""``extensions.code`` of an HTTP refusal by status (anything else: ``BAD_REQUEST``)."""


def http_problem(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A GraphQL-shaped error response for a request refused before execution."""
    code = STATUS_CODES.get(status, ErrorCode.BAD_REQUEST).value
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status, headers)


class GraphQLView(GraphQL):
    """Strawberry's ASGI view, bounded (module docstring). ``max_body_bytes``: largest request body."""

    websocket_adapter_class = SharedResultWebSocket  # type: ignore[assignment] - one JSON text per shared result
    graphql_transport_ws_handler_class = GuardedTransportWSHandler
    graphql_ws_handler_class = GuardedGraphQLWSHandler

    def __init__(self, schema: BaseSchema, *, max_body_bytes: int, **options: Any) -> None:
        super().__init__(schema, **options)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large()(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive=self._bounded(receive)))
        except HTTPException as e:
            response = http_problem(e.status_code, e.reason)
        except BodyTooLarge:
            response = self._too_large()
        await response(scope, receive, send)

    def _too_large(self) -> JSONResponse:
        # Kept alive: uvicorn reads and drops the rest of the body (within the body deadline), so the client
        # reads this answer instead of a reset connection.
        return http_problem(413, f"a request body is at most {self.max_body_bytes} bytes")

    def _bounded(self, receive: Receive) -> Receive:
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        return bounded

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except UnicodeDecodeError as e:
            raise json.JSONDecodeError("not UTF-8", "", 0) from e
        except RecursionError as e:
            raise json.JSONDecodeError("nested too deeply", "", 0) from e

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        if isinstance(parsed, list):
            return parsed  # a batch: Strawberry refuses it ("Batching is not enabled")
        if not isinstance(parsed, dict):
            raise HTTPException(400, 'the body must be a JSON object: {"query": ..., "variables": {...}}')
        return parsed
