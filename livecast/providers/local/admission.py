"""Admission of RTMP connections that have not started publishing yet (anyone can open one).

Until its publish is authorised a connection is *pending*; pending connections are capped per client address
and in total, so that a flood of handshakes cannot hold the ingest's memory or crowd out real encoders. Over a
cap a new connection is closed at once. IPv6 clients are counted per /64 (one subscriber usually holds a whole
/64), IPv4-mapped IPv6 addresses as their IPv4 address.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Any

IPV6_PREFIX = 64


def client_key(peername: Any) -> str:
    """What pending connections are counted by: the IPv4 address, the IPv6 /64, or the peer name as text (e.g. a
    Unix socket) for ``peername`` as ``StreamWriter.get_extra_info("peername")`` gives it (may be ``None``)."""
    host = peername[0] if isinstance(peername, tuple) and peername else peername
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return str(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


class PendingSlot:
    """One admitted pending connection; :meth:`release` (idempotent) when it publishes or closes."""

    def __init__(self, owner: PendingConnections, key: str) -> None:
        self._owner: PendingConnections | None = owner
        self.key = key

    def release(self) -> None:
        if self._owner is not None:
            self._owner._release(self.key)
            self._owner = None


class PendingConnections:
    """Counts pending connections: at most ``per_address`` per :func:`client_key` and ``total`` in all."""

    def __init__(self, *, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self._by_key: Counter[str] = Counter()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def admit(self, peername: Any) -> PendingSlot | None:
        """A slot for a new connection from ``peername``, or ``None`` if a cap is reached (close the connection)."""
        key = client_key(peername)
        if self._count >= self.total or self._by_key[key] >= self.per_address:
            return None
        self._by_key[key] += 1
        self._count += 1
        return PendingSlot(self, key)

    def _release(self, key: str) -> None:
        self._count -= 1
        self._by_key[key] -= 1
        if self._by_key[key] <= 0:
            del self._by_key[key]
