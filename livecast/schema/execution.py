"""How livecast executes operations: Strawberry's executor and error masking, minus two per-event costs that
show with thousands of subscribers of one stream.

* graphql-core 3.3 builds one executor per subscription event as a shallow copy of the subscription's
  executor, so the copy shares its memo of collected subfields. That memo is keyed by the identity of field
  lists built anew for every event: each event added an entry that lived as long as the subscription (about
  18 objects, ~1.5 KB, per subscriber per event). Each event now gets a memo of its own.
* ``MaskErrors`` checks every result against a runtime ``Protocol`` (an ``isinstance`` of several µs in
  Python 3.11), once per event per subscriber. Results without errors now skip it.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import MaskErrors
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class LivecastExecutor(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        if hasattr(executor, "_relevant_sub_fields"):
            executor._relevant_sub_fields = {}
        return executor


class LivecastMaskErrors(MaskErrors):
    def _process_result(self, result: object) -> None:
        if getattr(result, "errors", None):
            super()._process_result(result)
