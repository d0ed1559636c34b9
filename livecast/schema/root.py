"""The root schema: per-domain Query/Mutation/Subscription classes merged, with limits and error masking."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.extensions import MaskErrors, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.tools import merge_types

from livecast.schema.realtime import RealtimeSubscription
from livecast.schema.streams import StreamMutation, StreamQuery
from livecast.schema.users import UserQuery

Query = merge_types("Query", (StreamQuery, UserQuery))
Mutation = merge_types("Mutation", (StreamMutation,))
Subscription = merge_types("Subscription", (RealtimeSubscription,))


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions; keep GraphQL errors we raised on purpose (they carry ``extensions.code``)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError | InvalidOperationTypeError):
        return False
    return not (error.extensions or {}).get("code")


def build_schema(*, max_depth: int = 12, cache_size: int = 1024) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[  # factories: a fresh extension per request; the LRU caches live at module level
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: ParserCache(maxsize=cache_size),
            lambda: ValidationCache(maxsize=cache_size),
            lambda: MaskErrors(should_mask_error=_should_mask),
        ],
    )
