"""The root schema: per-domain Query/Mutation/Subscription classes merged, with limits (:mod:`.guard`) and the
error policy (:mod:`.error_policy`)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from livecast.schema.analytics import AnalyticsQuery
from livecast.schema.broadcast import BroadcastMutation
from livecast.schema.chat import ChatMutation, ChatQuery, ChatSubscription
from livecast.schema.context import RecheckCaller
from livecast.schema.error_policy import CodedErrors, log_errors, with_code
from livecast.schema.execution import executor_class
from livecast.schema.guard import QueryGuard
from livecast.schema.health import HealthMutation, HealthQuery
from livecast.schema.limits import QueryLimits
from livecast.schema.moderation import ModerationMutation, ModerationQuery, ModerationSubscription
from livecast.schema.playback import PlaybackMutation
from livecast.schema.realtime import RealtimeSubscription
from livecast.schema.simulcast import SimulcastMutation
from livecast.schema.streams import StreamMutation, StreamQuery
from livecast.schema.users import UserQuery

Query = merge_types("Query", (StreamQuery, UserQuery, ChatQuery, ModerationQuery, HealthQuery, AnalyticsQuery))
Mutation = merge_types(
    "Mutation",
    (
        StreamMutation,
        ChatMutation,
        ModerationMutation,
        HealthMutation,
        PlaybackMutation,
        SimulcastMutation,
        BroadcastMutation,
    ),
)
Subscription = merge_types("Subscription", (RealtimeSubscription, ChatSubscription, ModerationSubscription))


class LivecastSchema(strawberry.Schema):
    """Strawberry's schema with livecast's error log policy (:func:`~livecast.schema.error_policy.log_errors`)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        log_errors(errors)

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Queries and mutations (HTTP); a subscription needs a websocket (``InvalidOperationTypeError``: HTTP
        400 ``BAD_REQUEST``). Errors that reached the result outside the extensions' view (an exception in an
        extension hook) are coded and masked here too."""
        allowed = kwargs.get("allowed_operation_types")
        allowed = set(OperationType) if allowed is None else set(allowed)
        kwargs["allowed_operation_types"] = allowed - {OperationType.SUBSCRIPTION}
        result = await super().execute(query, *args, **kwargs)
        if result.errors:
            result.errors = [with_code(error) for error in result.errors]
        return result


def build_schema(limits: QueryLimits | None = None) -> strawberry.Schema:
    """The schema with ``limits`` (defaults: :class:`QueryLimits`' own) applied to every operation."""
    limits = limits or QueryLimits()
    return LivecastSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=executor_class(suggestions=limits.suggestions),
        config=StrawberryConfig(disable_field_suggestions=not limits.suggestions),
        extensions=[  # factories: a fresh extension per request; caches live in the factory's closure
            QueryGuard.factory(limits),
            CodedErrors,
            RecheckCaller,  # websockets: the caller resolved again once the user cache may be stale
        ],
    )
