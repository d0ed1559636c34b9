"""Websocket protocol handlers that close a misbehaving connection instead of raising inside the ASGI app.

Both protocols (``graphql-transport-ws``, and the legacy Apollo ``graphql-ws``):

* a message that is not a JSON object with a string ``type``, or a ``subscribe``/``start`` whose ``id`` is not a
  string of at most :data:`MAX_OPERATION_ID` characters or whose ``payload`` is not ``{"query": string,
  "variables"?: object, "operationName"?: string, "extensions"?: object}``: close code 4400.

The legacy protocol, which Strawberry leaves open-ended, also gets the new one's rules:

* no ``connection_init`` within ``LIVECAST_WS_INIT_TIMEOUT_SECONDS``: close 4408;
* a token refused in ``connection_init``: ``connection_error`` then close 4403 (Strawberry: 1011, a server error);
* a second ``connection_init``: close 4429 (Strawberry acknowledged it again and started another keep-alive task).

Close codes: REFERENCE.md ("GraphQL over websockets").
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from livecast.schema.execution import GraphQLWSHandler, TransportWSHandler

MAX_OPERATION_ID = 256
"""Characters of an operation ``id``: clients use counters or UUIDs."""
BAD_MESSAGE, FORBIDDEN, INIT_TIMEOUT, TOO_MANY_INITS = 4400, 4403, 4408, 4429


def message_problem(message: object, *, operation_types: tuple[str, ...]) -> str | None:
    """Why ``message`` cannot be handled (a close reason), or ``None`` when its shape is fine."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be a JSON object with a string `type`"
    if message["type"] not in operation_types:
        return None
    operation_id, payload = message.get("id"), message.get("payload")
    if not isinstance(operation_id, str) or not 0 < len(operation_id) <= MAX_OPERATION_ID:
        return f"`id` must be a string of 1-{MAX_OPERATION_ID} characters"
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "`payload` must be an object with a string `query`"
    if not isinstance(payload.get("operationName"), str | None):
        return "`payload.operationName` must be a string or null"
    if not all(isinstance(payload.get(key), dict | None) for key in ("variables", "extensions")):
        return "`payload.variables` and `payload.extensions` must be objects or null"
    return None


class GuardedTransportWSHandler(TransportWSHandler):
    """``graphql-transport-ws`` with message shapes checked (module docstring)."""

    async def handle_message(self, message: Any) -> None:
        problem = message_problem(message, operation_types=("subscribe",))
        if problem is not None:
            await self.websocket.close(code=BAD_MESSAGE, reason=problem)
            return
        await super().handle_message(message)


class GuardedGraphQLWSHandler(GraphQLWSHandler):
    """Legacy ``graphql-ws`` with message shapes checked and the new protocol's init rules (module docstring)."""

    _init_timer: asyncio.Task[None] | None = None
    _init_received = False

    async def handle(self) -> None:
        self._init_timer = asyncio.create_task(self._init_deadline())
        try:
            await super().handle()
        finally:
            self._init_timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._init_timer

    async def _init_deadline(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self._init_received:
            await self.websocket.close(code=INIT_TIMEOUT, reason="Connection initialisation timeout")

    async def handle_message(self, message: Any) -> None:
        problem = message_problem(message, operation_types=("start",))
        if problem is not None:
            await self.websocket.close(code=BAD_MESSAGE, reason=problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        if self._init_received:
            await self.websocket.close(code=TOO_MANY_INITS, reason="Too many initialisation requests")
            return
        self._init_received = True
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            await self.send_message({"type": "connection_error", "payload": {"message": "payload must be an object"}})
            await self.websocket.close(code=BAD_MESSAGE, reason="Invalid connection init payload")
            return
        self.context.connection_params = payload
        try:
            acknowledged = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as e:
            await self.send_message({"type": "connection_error", "payload": e.payload})
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")
            return
        if isinstance(acknowledged, UnsetType) or acknowledged is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": acknowledged})
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())
