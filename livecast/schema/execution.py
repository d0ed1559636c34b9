"""How livecast executes operations: Strawberry's executor and error masking, minus per-event costs that
show with thousands of subscribers of one stream.

* graphql-core 3.3 builds one executor per subscription event as a shallow copy of the subscription's
  executor, so the copy shares its memo of collected subfields. That memo is keyed by the identity of field
  lists built anew for every event: each event added an entry that lived as long as the subscription (about
  18 objects, ~1.5 KB, per subscriber per event). Each event now gets a memo of its own.
* ``MaskErrors`` checks every result against a runtime ``Protocol`` (an ``isinstance`` of several µs in
  Python 3.11), once per event per subscriber. Results without errors skip it
  (:class:`~livecast.schema.error_policy.CodedErrors`).
* A subscription payload sent to many subscribers (one chat batch to every subscriber of a stream) is
  marked with :func:`share`: its result is computed once per distinct operation and variables, and its JSON
  text once, then the same text goes to every websocket of that selection (:class:`SharedResultWebSocket`),
  each in its own protocol envelope (``id``, ``type``). Only results without errors are shared; errors,
  completion and everything else stay per subscriber. The payload's type must have no viewer-dependent
  field (a resolver reading ``info.context``): the result would be the first subscriber's.
* Once one subscriber of a selection has sent a shared payload, the others need none of Strawberry's and
  graphql-core's per-event work (async generators, per-event executor, extension hooks, message dicts):
  :class:`DirectSender` lets the subscription resolver write the frame itself (the same bytes, in its own
  envelope) and go on to the next event; the first one, and anything else, takes the usual path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from graphql import ExecutionResult
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

T = TypeVar("T")
SHARED_RESULTS = "_livecast_shared_results"


def share(payload: T) -> T:
    """Mark a subscription payload that is the same object for many subscribers; returns it."""
    setattr(payload, SHARED_RESULTS, {})
    return payload


class SharedData(dict):  # type: ignore[type-arg]
    """A result's ``data`` computed once for many subscribers; ``json`` caches its JSON text (read-only)."""

    __slots__ = ("json",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self.json: str | None = None


def share_key(operation: Any, variable_values: Any) -> tuple[Any, ...]:
    """Which subscribers may share a result: same operation node (the parsed document is cached, so equal
    query texts share it) and same coerced variables."""
    coerced = getattr(variable_values, "coerced", variable_values)
    return (id(operation), json.dumps(coerced, sort_keys=True, default=repr))


class _Replay:
    """Stands in for a per-event executor whose result is already known."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


class LivecastExecutor(StrawberryGraphQLCoreExecutionContext):
    _share_key: tuple[Any, ...] | None = None
    _record: tuple[dict[Any, Any], tuple[Any, ...]] | None = None
    suggestions_hidden = False
    """Class default: no "Did you mean ...?" in variable coercion errors (see :func:`executor_class`)."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        if cls.suggestions_hidden:
            kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)

    def build_per_event_executor(self, payload: Any) -> Any:
        results = getattr(payload, SHARED_RESULTS, None)
        if results is not None:
            key = self._share_key
            if key is None:
                # The operation node keeps its identity while any executor of it lives (the entry holds it).
                key = self._share_key = share_key(self.operation, self.variable_values)
            hit = results.get(key)
            if hit is not None and hit[0] is self.operation:  # the entry holds the node: its id is not reused
                return _Replay(hit[1])
        executor = super().build_per_event_executor(payload)
        if hasattr(executor, "_relevant_sub_fields"):
            executor._relevant_sub_fields = {}
        if results is not None:
            executor._record = (results, key)
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        if self._record is None:
            return result
        if self.is_awaitable(result):
            return self._recorded(result)
        return self._keep(result)

    async def _recorded(self, result: Any) -> Any:
        return self._keep(await result)

    def _keep(self, result: Any) -> Any:
        assert self._record is not None
        if isinstance(result, ExecutionResult) and not result.errors and isinstance(result.data, dict):
            results, key = self._record
            result = ExecutionResult(data=SharedData(result.data), errors=None, extensions=result.extensions)
            results[key] = (self.operation, result)
        return result


def executor_class(*, suggestions: bool) -> type[LivecastExecutor]:
    """:class:`LivecastExecutor`, or a subclass that hides suggestions (schema names) in coercion errors."""
    if suggestions:
        return LivecastExecutor
    return type("LivecastExecutorNoSuggestions", (LivecastExecutor,), {"suggestions_hidden": True})


class SharedResultWebSocket(ASGIWebSocketAdapter):
    """Sends a message whose payload is exactly ``{"data": SharedData}`` (``next`` in graphql-transport-ws,
    ``data`` in graphql-ws) as its envelope around the data's JSON text, encoded once for all subscribers:
    byte for byte what ``send_json`` would send."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._envelopes: dict[tuple[Any, ...], str] = {}
        """Per operation id and message type: the JSON text before the data (a few per connection)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        payload = message.get("payload")
        data = payload.get("data") if type(payload) is dict and len(payload) == 1 else None
        if type(data) is not SharedData:
            await super().send_json(message)
            return
        if data.json is None:
            encoded = self.view.encode_json(data)
            if not isinstance(encoded, str):
                await super().send_json(message)
                return
            data.json = encoded
        items = tuple(message.items())
        if items[-1][0] != "payload":  # not how Strawberry builds its messages: no shortcut
            await super().send_json(message)
            return
        await self.send_shared(items[:-1], data)

    async def send_shared(self, key: tuple[tuple[str, Any], ...], data: SharedData) -> None:
        """Send ``{<key's items>, "payload": {"data": <data>}}``; ``data.json`` must be set."""
        assert data.json is not None
        envelope = self._envelopes.get(key)
        if envelope is None:
            encode = self.view.encode_json
            envelope = "{" + "".join(f"{encode(name)}:{encode(value)}," for name, value in key) + '"payload":{"data":'
            if all(isinstance(value, str) for _, value in key):
                if len(self._envelopes) >= 64:
                    self._envelopes.clear()
                self._envelopes[key] = envelope
        await self._send(envelope + data.json + "}}")

    async def _send(self, text: str) -> None:
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


_current: ContextVar[tuple[Any, ...] | None] = ContextVar("livecast_ws_operation", default=None)
"""In a websocket operation's task: (the adapter, envelope key, the transport-ws ``Operation`` or ``None``)."""


class TransportWSHandler(BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
    """graphql-transport-ws, telling the operation's resolvers where its frames go (see :class:`DirectSender`)."""

    async def run_operation(self, operation: Operation) -> None:  # type: ignore[type-arg]
        _current.set((self.websocket, (("id", operation.id), ("type", "next")), operation))
        await super().run_operation(operation)


class GraphQLWSHandler(BaseGraphQLWSHandler):  # type: ignore[type-arg]
    """graphql-ws (legacy), likewise."""

    async def handle_async_results(self, operation_id: str, *args: Any, **kwargs: Any) -> None:
        _current.set((self.websocket, (("type", "data"), ("id", operation_id)), None))
        await super().handle_async_results(operation_id, *args, **kwargs)


class DirectSender:
    """For a subscription resolver: ``await sender.send(payload)`` writes the frame of a shared payload
    (:func:`share`) straight to the websocket when this selection's JSON text is already known, and
    returns ``True``; ``False`` (nothing sent) means: yield the payload as usual. Ordering holds because the
    resolver only runs once its previous frame was sent; errors and completion take the usual path."""

    __slots__ = ("_envelope", "_key", "_node", "_operation", "_ws", "frames")

    def __init__(
        self, ws: SharedResultWebSocket, envelope: tuple[tuple[str, Any], ...], operation: Any, info: Any
    ) -> None:
        raw = getattr(info, "_raw_info", info)
        self._ws: SharedResultWebSocket | None
        self._ws, self._envelope, self._operation = ws, envelope, operation
        self._node = raw.operation
        self._key = share_key(raw.operation, raw.variable_values)
        self.frames = 0
        """Frames sent directly (for tests and profiling)."""

    @classmethod
    def current(cls, info: Any) -> DirectSender | None:
        """The sender for the running websocket operation; ``None`` over HTTP or with another adapter."""
        current = _current.get()
        if current is None or not isinstance(current[0], SharedResultWebSocket):
            return None
        return cls(current[0], current[1], current[2], info)

    async def send(self, payload: object) -> bool:
        results = getattr(payload, SHARED_RESULTS, None)
        if results is None:
            return False
        hit = results.get(self._key)
        if hit is None or hit[0] is not self._node:
            return False
        result = hit[1]
        data = result.data
        if type(data) is not SharedData or data.json is None or result.extensions:
            return False
        if self._ws is None or (self._operation is not None and self._operation.completed):
            return False
        try:
            await self._ws.send_shared(self._envelope, data)
        except WebSocketDisconnected:
            self._ws = None  # gone: the usual path meets the closed socket the usual way
            return False
        self.frames += 1
        return True
