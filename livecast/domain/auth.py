"""Access tokens (HS256 JWT, RFC 7519) and the authenticated principal.

Claims: ``sub`` (user id, UUID), ``name``, ``roles`` (list of strings, e.g. ``["admin"]``), ``iat``, ``exp``
(Unix seconds). Signed with ``LIVECAST_SECRET_KEY``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from livecast.domain.errors import Unauthenticated, ValidationFailed
from livecast.domain.models import User

ALGORITHM = "HS256"
ADMIN = "admin"
KNOWN_ROLES = frozenset({ADMIN})
CACHE_SIZE = 4096
"""Verified tokens remembered (least recently used dropped first): a JWT's HMAC check and claim parsing cost
~40 µs, paid once per token instead of once per request."""


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user id (string UUID), name and roles from a verified token."""

    user_id: str
    name: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


def require_actor(actor: Principal | None) -> Principal:
    """The caller of a command, or ``Unauthenticated`` for an anonymous request."""
    if actor is None:
        raise Unauthenticated("sign in: send 'Authorization: Bearer <token>' (livecast token create)")
    return actor


def issue_token(*, user: User, key: str, ttl_seconds: int, now: datetime | None = None) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "name": user.name,
        "roles": list(user.roles),
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


class _VerifiedTokens:
    """Bounded LRU of verified tokens: (token, key) -> (principal, exp in Unix seconds). An entry is used only
    before its ``exp`` (the same instant PyJWT refuses it at, without leeway); anything not cached, expired or
    unverifiable goes through :func:`jwt.decode`, so a tampered token is never a hit (the whole token string,
    signature included, is the key)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()

    def get(self, token: str, key: str) -> Principal | None:
        entry = self._entries.get((token, key))
        if entry is None:
            return None
        if time.time() >= entry[1]:
            del self._entries[(token, key)]
            return None
        self._entries.move_to_end((token, key))
        return entry[0]

    def put(self, token: str, key: str, principal: Principal, exp: float) -> None:
        self._entries[(token, key)] = (principal, exp)
        self._entries.move_to_end((token, key))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


verified_tokens = _VerifiedTokens(CACHE_SIZE)


def verify_token(token: str, *, key: str) -> Principal:
    """Verify signature and expiry; raises ``Unauthenticated`` with a reason a developer can act on. A token
    verified before is answered from :data:`verified_tokens` until its ``exp``."""
    cached = verified_tokens.get(token, key)
    if cached is not None:
        return cached
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as e:
        raise Unauthenticated("access token expired") from e
    except jwt.InvalidTokenError as e:
        raise Unauthenticated(f"invalid access token: {e}") from e
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthenticated("invalid access token: roles must be a list of strings")
    principal = Principal(user_id=str(claims["sub"]), name=str(claims.get("name", "")), roles=frozenset(roles))
    exp = claims["exp"]
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        verified_tokens.put(token, key, principal, float(int(exp)))  # PyJWT compares int(exp)
    return principal


def principal_from_header(value: str | None, *, key: str) -> Principal | None:
    """Parse ``Authorization: Bearer <JWT>``; ``None`` when absent, ``Unauthenticated`` when malformed."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    return verify_token(token.strip(), key=key)


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
