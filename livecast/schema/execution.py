"""How livecast executes operations: Strawberry's executor and error masking, minus per-event costs that
show with thousands of subscribers of one stream.

* graphql-core 3.3 builds one executor per subscription event as a shallow copy of the subscription's
  executor, so the copy shares its memo of collected subfields. That memo is keyed by the identity of field
  lists built anew for every event: each event added an entry that lived as long as the subscription (about
  18 objects, ~1.5 KB, per subscriber per event). Each event now gets a memo of its own.
* ``MaskErrors`` checks every result against a runtime ``Protocol`` (an ``isinstance`` of several µs in
  Python 3.11), once per event per subscriber. Results without errors now skip it.
* A subscription payload sent to many subscribers (one chat batch to every subscriber of a stream) is
  marked with :func:`share`: its result is computed once per distinct operation and variables, and its JSON
  text once, then the same text goes to every websocket of that selection (:class:`SharedResultWebSocket`),
  each in its own protocol envelope (``id``, ``type``). Only results without errors are shared; errors,
  completion and everything else stay per subscriber. The payload's type must have no viewer-dependent
  field (a resolver reading ``info.context``): the result would be the first subscriber's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from graphql import ExecutionResult
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.extensions import MaskErrors
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

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

    def build_per_event_executor(self, payload: Any) -> Any:
        results = getattr(payload, SHARED_RESULTS, None)
        if results is not None:
            key = self._share_key
            if key is None:
                variables = json.dumps(self.variable_values.coerced, sort_keys=True, default=repr)
                # The operation node keeps its identity while any executor of it lives (the entry holds it).
                key = self._share_key = (id(self.operation), variables)
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


class LivecastMaskErrors(MaskErrors):
    def _process_result(self, result: object) -> None:
        if getattr(result, "errors", None):
            super()._process_result(result)


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
        key = items[:-1]
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
