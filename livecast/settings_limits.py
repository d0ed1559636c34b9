"""Settings that bound what clients may make livecast do (issue #10, README "Security"): a part of
:class:`livecast.settings.Settings` (read from the environment there, as ``LIVECAST_<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class LimitSettings(BaseModel):
    """Rate limits and quotas per user and per address, GraphQL document limits, HTTP and websocket limits."""

    chat_rate_limit: str = "20/30 seconds"
    """Chat messages one user may send per window (``limits`` notation: ``N/<period>``, a moving window)."""
    reaction_rate_limit: str = "30/10 seconds"
    """Reactions one user may send per window."""
    chat_rate_limit_privileged: str = "100/30 seconds"
    """Chat messages per window for a stream's owner, its moderators and admins (counted apart from their
    ``chat_rate_limit`` as viewers elsewhere); nobody is exempt."""
    reaction_rate_limit_privileged: str = "60/10 seconds"
    """Reactions per window for a stream's owner, its moderators and admins."""
    stream_create_rate_limit: str = "50/day"
    """Streams one user may create per window, admins included (so that ENDED streams cannot pile up without
    bound either); refused with ``RATE_LIMITED`` and ``retryAfter`` (seconds)."""
    max_open_streams_per_owner: int = Field(20, ge=1)
    """Streams one owner may have that are not over (SCHEDULED, PREPARING, LIVE, RECONNECTING); one more is
    refused with ``VALIDATION``. Admins are exempt from this count (not from ``stream_create_rate_limit``)."""

    beacon_rate_limit: str = "600/minute"
    """Beacon requests one client address may send per window (``limits`` notation; IPv6 per /64). A player
    beacons every ~5 s (12/minute): the default lets ~50 players share one address (NAT)."""
    viewer_sessions_per_stream: int = Field(50_000, ge=1)
    """Playback sessions one stream may hold in the viewer store; past it new sessions get HTTP 503."""
    viewer_sessions_max: int = Field(200_000, ge=1)
    """Playback sessions the in-memory viewer store (``memory://``) may hold for all streams (HTTP 503 past it)."""

    graphql_max_tokens: int = Field(2000, ge=100)
    """Lexical tokens one GraphQL document may have (the parser stops there; ``QUERY_TOO_COMPLEX``). Validating a
    document costs ~50-130 µs of CPU per token in graphql-core; GraphiQL's introspection query has 183."""
    graphql_max_chars: int = Field(64 * 1024, ge=1024)
    """Characters one GraphQL document may have, whitespace, comments and strings included (``QUERY_TOO_COMPLEX``)."""
    graphql_max_aliases: int = Field(100, ge=0)
    """Aliased fields one document may write (``QUERY_TOO_COMPLEX``)."""
    graphql_max_depth: int = Field(20, ge=2)
    """Nested selection sets an operation may have, fragments expanded (``QUERY_TOO_COMPLEX``; GraphiQL's
    introspection query nests 15)."""
    graphql_max_cost: int = Field(10_000, ge=10)
    """Fields an operation may resolve, estimated before it runs: each field 1, a list's selection times its
    ``first`` (or ``LIVECAST_GRAPHQL_LIST_SIZE``) (``QUERY_TOO_COMPLEX``; see livecast/schema/limits.py)."""
    graphql_max_merge_work: int = Field(20_000, ge=100)
    """Field pairs the spec's "fields can merge" check may compare (fields repeated under one response name; see
    livecast/schema/limits.py): bounds a validation cost that is otherwise quadratic (``QUERY_TOO_COMPLEX``)."""
    graphql_list_size: int = Field(10, ge=1)
    """Items assumed for a list field without ``first`` when estimating cost."""
    graphql_validation_seconds: float = Field(1.0, gt=0, le=30)
    """Seconds the spec's validation of one document may take before it is refused (``QUERY_TOO_COMPLEX``)."""
    graphql_cache_chars: int = Field(128 * 1024, ge=0)
    """Characters of query text whose parsed documents and validation verdicts are cached, in all."""
    graphql_max_body_bytes: int = Field(1024 * 1024, ge=1024)
    """Largest ``/graphql`` request body (bytes); larger gets HTTP 413 (``PAYLOAD_TOO_LARGE``)."""
    graphql_introspection: bool | None = None
    """``__schema``/``__type`` queries allowed. Default: on, off when ``LIVECAST_ENV=production``."""
    graphql_suggestions: bool | None = None
    """"Did you mean ...?" hints (schema names) in errors. Default: on, off when ``LIVECAST_ENV=production``."""
    graphiql: bool | None = None
    """Serve GraphiQL at ``GET /graphql`` in a browser. Default: on, off when ``LIVECAST_ENV=production``."""

    http_header_timeout_seconds: float = Field(10.0, gt=0, le=300)
    """Seconds a client has to send a request's headers (from connecting, or from its first byte on a kept-alive
    connection); then the connection is closed (slow-loris)."""
    http_body_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    """Seconds a client has to send a request body once its headers are in."""
    http_max_header_bytes: int = Field(64 * 1024, ge=4096)
    """Largest request line + headers (bytes); larger gets HTTP 431 and the connection is closed."""
    http_max_connections: int = Field(20_000, ge=10)
    """Open HTTP and websocket connections (and running requests) before new requests get HTTP 503."""
    forwarded_allow_ips: str = ""
    """Comma-separated proxy addresses (or ``*``) whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are trusted
    for the client address (per-address limits, logs). Empty: trust no one (livecast faces clients directly)."""
    ws_max_message_bytes: int = Field(256 * 1024, ge=4096)
    """Largest websocket message a client may send (bytes); larger closes the connection (code 1009)."""

    @field_validator(
        "chat_rate_limit", "reaction_rate_limit", "chat_rate_limit_privileged", "reaction_rate_limit_privileged",
        "stream_create_rate_limit", "beacon_rate_limit",
    )  # fmt: skip
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as e:
            raise ValueError('a rate limit reads "N/<period>", e.g. "20/30 seconds" or "50/day"') from e
        return value
