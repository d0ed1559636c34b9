"""URLs that users give livecast (a stream's thumbnail, simulcast destinations): one rule for all of them.

:func:`public_url` accepts an absolute URL of an allowed scheme whose host is a public DNS name or a global
unicast IP address written in standard notation, and raises ``ValidationFailed`` naming the field otherwise:

- longer than :data:`URL_MAX` characters; a control, format or whitespace character (Unicode categories C* and
  Z*: also zero-width and bidi marks) or a backslash anywhere; no ``//host``; a user name or password
  (``user:pass@host``); a port that is not a number from 1 to 65535;
- an IP address that is not global unicast (``ipaddress``): loopback, private (RFC 1918, ULA ``fc00::/7``),
  link-local (``169.254.0.0/16`` with the cloud metadata address ``169.254.169.254``, ``fe80::/10``),
  unspecified, multicast, reserved, documentation and benchmarking ranges, carrier-grade NAT ``100.64.0.0/10``,
  and :data:`NOT_GLOBAL` (blocks older Pythons call global, e.g. Oracle's metadata ``192.0.0.192``); an
  IPv4-mapped IPv6 address is judged by its IPv4 address; IPv6 with a zone (``%eth0``) is refused;
- an IPv4 address in any form but four decimal numbers: ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and
  ``127.1`` all mean 127.0.0.1 to ``inet_aton`` and to browsers; a host whose last label is a number is an IPv4
  address for WHATWG URL parsers, so it must be a valid one;
- a host name that is not a public DNS name: one label only (``localhost``, ``metadata``, ``instance-data``:
  resolved through local search domains), a :data:`LOCAL_SUFFIXES` name (``*.localhost``, ``*.local``,
  ``metadata.google.internal``, ...), or not valid IDNA (``%``-escapes, ``_``, empty labels). Non-ASCII names
  are mapped as browsers map them (UTS #46) before the checks, so ``ⓛocalhost`` or ``１２７.０.０.１`` are caught.

Names are not resolved here: the check is on the literal, and a public name may still resolve to a private
address (or change, DNS rebinding). Code that fetches such a URL must check the address it connects to; livecast
fetches none of them itself (players load thumbnails, the provider pushes to simulcast destinations).
"""

from __future__ import annotations

import ipaddress
import socket
import string
import unicodedata
from collections.abc import Collection
from urllib.parse import SplitResult, urlsplit

import idna

from livecast.domain.errors import ValidationFailed

URL_MAX = 2048
"""Characters."""
LOCAL_SUFFIXES = ("localhost", "local", "localdomain", "internal", "home.arpa", "invalid")
"""Special-use or private-use domains (RFC 6761, 6762, 8375; ICANN's ``.internal``): never public names."""
NOT_GLOBAL = tuple(
    ipaddress.ip_network(block)
    for block in ("192.0.0.0/24", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "3fff::/20", "fec0::/10")
)
"""IANA special-purpose blocks that are not global unicast for a user's URL but that ``ipaddress`` of some
Python versions calls global: IETF protocol assignments, NAT64 (embeds any IPv4 address), 6to4 (idem,
deprecated), documentation (RFC 9637), site-local (deprecated)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def public_url(value: str, *, field: str, schemes: Collection[str]) -> str:
    """``value`` unchanged if it is a URL of one of ``schemes`` (lower case) on a public host (module docstring);
    raises ``ValidationFailed(field=field)`` with a message saying what is wrong otherwise."""
    if len(value) > URL_MAX:
        raise ValidationFailed(f"{field} must be at most {URL_MAX} characters", field=field)
    if any(c == "\\" or unicodedata.category(c)[0] in "CZ" for c in value):
        raise ValidationFailed(f"{field} must not contain spaces, control characters or backslashes", field=field)
    wanted = " or ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValidationFailed(f"{field} must be a valid {wanted} URL", field=field) from None
    if parts.scheme not in schemes or not parts.netloc:
        raise ValidationFailed(f"{field} must be an absolute {wanted} URL", field=field)
    if "@" in parts.netloc:
        raise ValidationFailed(f"{field} must not contain a user name or password", field=field)
    _check_port(parts, field)
    host = parts.hostname or ""
    if "[" in parts.netloc or "]" in parts.netloc:
        _check_address(_ipv6_literal(host, field), host, field)
    else:
        _check_name(host, field)
    return value


def _check_port(parts: SplitResult, field: str) -> None:
    """Digits only (``int`` alone would take ``+80``), 1-65535; an empty port (``host:``) is the default."""
    _, colon, text = parts.netloc.rpartition("]")[2].rpartition(":")
    if colon and text and not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise ValidationFailed(f"{field} has an invalid port (a number from 1 to 65535)", field=field)


def _ipv6_literal(host: str, field: str) -> ipaddress.IPv6Address:
    """An IPv6 address without a zone (``fe80::1%eth0`` names an interface of the machine that connects)."""
    try:
        if "%" in host:
            raise ValueError(host)
        return ipaddress.IPv6Address(host)
    except ValueError:
        raise ValidationFailed(f"{field} has an invalid IPv6 address [{host}]", field=field) from None


def _check_name(host: str, field: str) -> None:
    """A DNS name or an IPv4 address (a name whose last label is a number is an address to URL parsers)."""
    try:
        name = idna.encode(host, uts46=True).decode("ascii") if host else ""
    except (idna.IDNAError, UnicodeError):
        name = ""
    name = name.removesuffix(".")
    if not name:
        raise ValidationFailed(f"{field} must have a valid host name", field=field)
    last = name.rsplit(".", 1)[-1]
    if last.isdigit() or (last.startswith("0x") and all(c in string.hexdigits for c in last[2:])):
        _check_address(_ipv4_literal(name, field), name, field)
        return
    if "." not in name or any(name == suffix or name.endswith(f".{suffix}") for suffix in LOCAL_SUFFIXES):
        raise ValidationFailed(f"{field} must point to a public host name ({name} is a local name)", field=field)


def _ipv4_literal(name: str, field: str) -> ipaddress.IPv4Address:
    """Only ``a.b.c.d`` in decimal without leading zeros; the other ``inet_aton`` forms are refused."""
    try:
        address = ipaddress.IPv4Address(name)
    except ValueError:
        address = None
    if address is not None and str(address) == name:
        return address
    try:
        meant = socket.inet_ntoa(socket.inet_aton(name))
    except (OSError, ValueError):
        raise ValidationFailed(f"{field} has an invalid IPv4 address {name}", field=field) from None
    raise ValidationFailed(
        f"{field} must write an IPv4 address as four decimal numbers ({name} means {meant})", field=field
    )


def _check_address(address: IPAddress, shown: str, field: str) -> None:
    kind = non_public_kind(address)
    if kind is not None:
        raise ValidationFailed(f"{field} must point to a public address ({shown} is {kind})", field=field)


def non_public_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address (e.g. ``"a loopback address"``), or ``None`` if it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return non_public_kind(address.ipv4_mapped)
    kinds = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
    )
    for flagged, kind in kinds:
        if flagged:
            return kind
    if not address.is_global or any(address in block for block in NOT_GLOBAL):
        return "not a globally routable address"
    return None
