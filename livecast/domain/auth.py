"""Access tokens (HS256 JWT, RFC 7519) and the authenticated principal.

A token says who the caller is, never what they may do. Claims: ``sub`` (user id, UUID), ``ver`` (the user's
``token_version`` when the token was issued; missing counts as 0), ``iat`` and ``exp`` (Unix seconds), ``name``
(informational only). Signed with ``LIVECAST_SECRET_KEY``. Roles, and whether the user still exists and still
accepts tokens of that version, come from the ``users`` row, read through :class:`Authenticator`'s per-process
cache: a role removed, a user deleted or a revocation (:func:`revoke_tokens`, ``livecast token revoke``) takes
effect within ``LIVECAST_AUTH_CACHE_SECONDS`` on every process.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import jwt
from tortoise.expressions import F

from livecast.domain import users
from livecast.domain.errors import NotFound, Unauthenticated, ValidationFailed
from livecast.domain.models import User

ALGORITHM = "HS256"
ADMIN = "admin"
KNOWN_ROLES = frozenset({ADMIN})
MAX_TOKEN_CHARS = 4096
"""Longer bearer tokens are refused before any parsing (ours are ~250 characters)."""
TOKEN_CACHE_SIZE = 4096
"""Verified tokens remembered (least recently used dropped first): a JWT's HMAC check and claim parsing cost
~40 µs, paid once per token instead of once per request."""
MAX_EXP = 2**53
"""``exp`` values above this (Unix seconds, far beyond any real token) are remembered as this."""
ACCOUNT_CACHE_SIZE = 10_000
"""Users whose row (roles, token version, or absence) a process remembers for ``LIVECAST_AUTH_CACHE_SECONDS``."""

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user id (string UUID), name and roles (from the user's row)."""

    user_id: str
    name: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token states: the user id (canonical UUID string), the token version, ``exp`` (Unix s)."""

    user_id: str
    version: int
    expires_at: float


def require_actor(actor: Principal | None) -> Principal:
    """The caller of a command, or ``Unauthenticated`` for an anonymous request."""
    if actor is None:
        raise Unauthenticated("sign in: send 'Authorization: Bearer <token>' (livecast token create)")
    return actor


def issue_token(*, user: User, key: str, ttl_seconds: int, now: datetime | None = None) -> str:
    """A token for ``user`` at its current ``token_version``, valid ``ttl_seconds`` seconds from ``now``."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "name": user.name,
        "ver": user.token_version,
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode_token(token: str, *, key: str) -> TokenClaims:
    """Check the signature, ``exp`` and ``iat`` and the claims' shapes; ``Unauthenticated`` with a reason a
    developer can act on (expired, bad signature, ``sub`` not a user id, ...). Reads no database."""
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated(f"invalid access token: longer than {MAX_TOKEN_CHARS} characters")
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]})
    except jwt.ExpiredSignatureError as e:
        raise Unauthenticated("access token expired") from e
    except jwt.InvalidTokenError as e:
        raise Unauthenticated(f"invalid access token: {e}") from e
    sub, version, exp = claims["sub"], claims.get("ver", 0), claims["exp"]
    try:
        user_id = str(uuid.UUID(sub))
    except (ValueError, TypeError, AttributeError) as e:
        raise Unauthenticated("invalid access token: sub is not a user id") from e
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise Unauthenticated("invalid access token: ver must be a whole number")
    expires_at = float(min(int(exp), MAX_EXP))  # PyJWT compares int(exp); a float cannot hold every int
    return TokenClaims(user_id=user_id, version=version, expires_at=expires_at)


def bearer_token(value: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``; ``None`` when absent, ``Unauthenticated`` when malformed."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    return token.strip()


class ExpiringLRU(Generic[K, V]):
    """At most ``size`` entries, each usable until its own deadline (in whatever clock the caller passes);
    the least recently used is dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K, now: float) -> tuple[V] | None:
        """``(value,)`` while fresh (so a cached ``None`` is a hit), else ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry[1]:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return (entry[0],)

    def put(self, key: K, value: V, until: float) -> None:
        self._entries[key] = (value, until)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class _Account:
    principal: Principal
    token_version: int


class Authenticator:
    """Who a bearer token belongs to and what that user may do now, for one process (one per app).

    Verified tokens are remembered until their ``exp`` (the whole token string is the key, so a tampered token
    is never a hit) and users' rows for ``cache_seconds`` (``LIVECAST_AUTH_CACHE_SECONDS``): a request whose
    token and user were seen recently reads nothing. Concurrent requests of one user whose row is not cached
    share one database read. ``key`` returns the signing key (``LIVECAST_SECRET_KEY``); ``clock`` is monotonic
    seconds.
    """

    def __init__(
        self, *, key: Callable[[], str], cache_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._key = key
        self._tokens: ExpiringLRU[str, TokenClaims] = ExpiringLRU(TOKEN_CACHE_SIZE)
        self._accounts: ExpiringLRU[str, _Account | None] = ExpiringLRU(ACCOUNT_CACHE_SIZE)
        self._loading: dict[str, asyncio.Future[_Account | None]] = {}

    async def from_header(self, value: str | None) -> Principal | None:
        """The caller of ``Authorization: Bearer <token>``; ``None`` without the header; ``Unauthenticated``
        for a malformed header or a refused token (see :meth:`authenticate`)."""
        token = bearer_token(value)
        return None if token is None else await self.authenticate(token)

    async def authenticate(self, token: str) -> Principal:
        """The principal of a token, roles from the user's row. ``Unauthenticated`` when the token is invalid
        or expired, its user no longer exists, or it was revoked (its ``ver`` is older than the user's)."""
        claims = self.claims(token)
        account = await self._account(claims.user_id)
        if account is not None and claims.version > account.token_version:
            account = await self._account(claims.user_id, reload=True)  # issued after this process last read
        if account is None:
            raise Unauthenticated("access token refused: its user no longer exists")
        if claims.version < account.token_version:
            raise Unauthenticated("access token revoked: create a new one (livecast token create)")
        if claims.version > account.token_version:
            raise Unauthenticated("invalid access token: unknown token version")
        return account.principal

    def claims(self, token: str) -> TokenClaims:
        """:func:`decode_token`, remembered until the token's ``exp``."""
        hit = self._tokens.get(token, time.time())
        if hit is not None:
            return hit[0]
        claims = decode_token(token, key=self._key())
        self._tokens.put(token, claims, claims.expires_at)
        return claims

    def is_stale(self, checked_at: float) -> bool:
        """Whether a caller resolved at ``checked_at`` (:attr:`clock`) may no longer match the database."""
        return self.clock() - checked_at >= self.cache_seconds

    def forget(self, user_id: str) -> None:
        """Drop what this process remembers of a user (the next request reads the row)."""
        self._accounts.discard(user_id)

    async def _account(self, user_id: str, *, reload: bool = False) -> _Account | None:
        if not reload:
            hit = self._accounts.get(user_id, self.clock())
            if hit is not None:
                return hit[0]
        pending = self._loading.get(user_id)
        if pending is None or reload:
            pending = asyncio.ensure_future(self._load(user_id))
            self._loading[user_id] = pending
            pending.add_done_callback(lambda done: self._loaded(user_id, done))
        return await asyncio.shield(pending)  # a waiter that goes away does not cancel the others' read

    async def _load(self, user_id: str) -> _Account | None:
        started = self.clock()  # the entry's lifetime counts from before the read: never older than cache_seconds
        user = await users.get_user(user_id)
        account = None
        if user is not None:
            roles = (
                frozenset(r for r in user.roles if isinstance(r, str)) if isinstance(user.roles, list) else frozenset()
            )
            account = _Account(Principal(user_id=user_id, name=user.name, roles=roles), user.token_version)
        if self.cache_seconds > 0:
            self._accounts.put(user_id, account, started + self.cache_seconds)
        return account

    def _loaded(self, user_id: str, done: asyncio.Future[_Account | None]) -> None:
        if self._loading.get(user_id) is done:
            del self._loading[user_id]
        if not done.cancelled():
            done.exception()  # retrieved here, so a read nobody waits for any more is not reported as lost


async def ensure_user(*, name: str, roles: list[str]) -> User:
    """Get the user called ``name`` (creating it if missing) and add ``roles`` to it."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("user name must be 1-100 characters", field="name")
    unknown = set(roles) - KNOWN_ROLES
    if unknown:
        raise ValidationFailed(f"unknown roles: {', '.join(sorted(unknown))}", field="roles")
    user, _ = await User.get_or_create(name=name, defaults={"roles": sorted(set(roles))})
    if not set(roles) <= set(user.roles):
        user.roles = sorted(set(user.roles) | set(roles))
        await user.save(update_fields=["roles"])
    return user


async def create_token(*, name: str, roles: list[str], key: str, ttl_seconds: int) -> str:
    """``livecast token create``: ensure the user exists, then issue a token for it."""
    user = await ensure_user(name=name, roles=roles)
    return issue_token(user=user, key=key, ttl_seconds=ttl_seconds)


async def revoke_tokens(*, name: str) -> int:
    """``livecast token revoke``: increment the user's ``token_version``, so every token issued to them so far
    is refused (within ``LIVECAST_AUTH_CACHE_SECONDS`` on every process); returns the new version. ``NotFound``
    when there is no user called ``name``."""
    name = name.strip()
    if not await User.filter(name=name).update(token_version=F("token_version") + 1):
        raise NotFound(f"user {name!r} does not exist")
    user = await User.get(name=name)
    return user.token_version
