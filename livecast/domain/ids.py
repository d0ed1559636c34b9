"""Ids as clients send them: every id livecast stores is a UUID (RFC 9562), so anything else names nothing."""

from __future__ import annotations

import uuid

MAX_ID_CHARS = 45
"""The longest text ``uuid.UUID`` accepts (a braced, ``urn:uuid:``-prefixed UUID); longer is not parsed at all."""


def is_uuid(value: object) -> bool:
    """Whether ``value`` is text of a UUID (a lookup of anything else must answer "not found" without asking the
    database: PostgreSQL refuses it as a malformed argument)."""
    if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
