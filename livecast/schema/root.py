"""The root schema: per-domain Query/Mutation/Subscription classes merged, with limits and error masking."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.extensions import AddValidationRules, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.tools import merge_types

from livecast.schema.analytics import AnalyticsQuery
from livecast.schema.execution import LivecastExecutor, LivecastMaskErrors
from livecast.schema.broadcast import BroadcastMutation
from livecast.schema.chat import ChatMutation, ChatQuery, ChatSubscription
from livecast.schema.health import HealthMutation, HealthQuery
from livecast.schema.moderation import ModerationMutation, ModerationQuery, ModerationSubscription
from livecast.schema.playback import PlaybackMutation
from livecast.schema.realtime import RealtimeSubscription
from livecast.schema.simulcast import SimulcastMutation
from livecast.schema.streams import StreamMutation, StreamQuery
from livecast.schema.users import UserQuery

Query = merge_types("Query", (StreamQuery, UserQuery, ChatQuery, ModerationQuery, HealthQuery, AnalyticsQuery))
Mutation = merge_types(
    "Mutation",
    (StreamMutation, ChatMutation, ModerationMutation, HealthMutation, PlaybackMutation, SimulcastMutation, BroadcastMutation),
)
Subscription = merge_types("Subscription", (RealtimeSubscription, ChatSubscription, ModerationSubscription))


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions; keep GraphQL errors we raised on purpose (they carry ``extensions.code``)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError | InvalidOperationTypeError):
        return False
    return not (error.extensions or {}).get("code")


def build_schema(*, max_depth: int = 12, cache_size: int = 1024) -> strawberry.Schema:
    # The depth rule is built once: ``QueryDepthLimiter`` makes a new rule class per instance, and the rules are
    # part of ValidationCache's key, so a limiter per request made every validation a miss (and filled the cache).
    depth_rules = QueryDepthLimiter(max_depth=max_depth).validation_rules
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=LivecastExecutor,
        extensions=[  # factories: a fresh extension per request; the LRU caches live at module level
            lambda: AddValidationRules(depth_rules),
            lambda: ParserCache(maxsize=cache_size),
            lambda: ValidationCache(maxsize=cache_size),
            lambda: LivecastMaskErrors(should_mask_error=_should_mask),
        ],
    )
