"""Simulcast targets: restream destinations of a stream (types and the simulcast part of Mutation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from livecast.domain import provider_models
from livecast.resolvers import simulcast as resolve
from livecast.schema.context import Info
from livecast.schema.errors import (
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
    ProviderError,
    UnauthenticatedError,
    ValidationError,
)
from livecast.schema.results import as_result

SimulcastStatus = strawberry.enum(
    provider_models.SimulcastStatus,
    name="SimulcastStatus",
    description="IDLE until the stream is live, then STARTING → BROADCASTING; ERRORED when the destination "
    "refuses or drops the restream (Mux's simulcast target states).",
)


@strawberry.type(description="A restream destination (RTMP(S) URL; its stream key is never returned).")
class SimulcastTarget:
    id: strawberry.ID
    url: str
    status: SimulcastStatus
    error: str | None = strawberry.field(description="Why the destination failed, when the provider said.")
    created_at: datetime

    @classmethod
    def of(cls, m: provider_models.SimulcastTarget) -> SimulcastTarget:
        return cls(id=strawberry.ID(str(m.id)), url=m.url, status=m.status, error=m.error, created_at=m.created_at)


@strawberry.type
class RemovedSimulcastTarget:
    id: strawberry.ID


SimulcastTargetResult = Annotated[
    SimulcastTarget
    | ValidationError
    | NotFoundError
    | ForbiddenError
    | UnauthenticatedError
    | InvalidStateError
    | ProviderError,
    strawberry.union("SimulcastTargetResult"),
]
RemoveSimulcastTargetResult = Annotated[
    RemovedSimulcastTarget | NotFoundError | ForbiddenError | UnauthenticatedError | ProviderError,
    strawberry.union("RemoveSimulcastTargetResult"),
]


@strawberry.type
class SimulcastMutation:
    @strawberry.mutation(
        description="Restream a stream to another RTMP(S) destination (owner or admin). `url`: rtmp:// or "
        "rtmps://; `streamKey`: the destination's key (kept secret). Mux accepts new targets only while the "
        "stream is idle on Mux; the local provider has no simulcast (PROVIDER_ERROR)."
    )
    async def add_simulcast_target(
        self, info: Info, stream_id: strawberry.ID, url: str, stream_key: str
    ) -> SimulcastTargetResult:
        return await as_result(resolve.add_target(info.context, str(stream_id), url, stream_key), SimulcastTarget.of)

    @strawberry.mutation(description="Stop restreaming to a destination and forget it (owner or admin).")
    async def remove_simulcast_target(
        self, info: Info, stream_id: strawberry.ID, target_id: strawberry.ID
    ) -> RemoveSimulcastTargetResult:
        return await as_result(
            resolve.remove_target(info.context, str(stream_id), str(target_id)),
            lambda i: RemovedSimulcastTarget(id=strawberry.ID(i)),
        )
