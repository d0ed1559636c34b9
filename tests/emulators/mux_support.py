"""Pieces of the Mux emulator: Mux-shaped ids and error bodies, fault injection (ASGI), a test RSA key pair,
and :func:`mux_settings` (livecast settings pointed at an emulator; also importable from ``tests.emulators.mux``)."""

from __future__ import annotations

import base64
import functools
import secrets
import string
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from livecast.settings import Settings

if TYPE_CHECKING:
    from tests.emulators.mux import MuxEmulator

ALNUM = string.ascii_letters + string.digits
SECRET_FIELDS = ("mux_token_secret", "mux_webhook_secret", "mux_signing_private_key")


class FaultSource(Protocol):
    _hanging: Any
    _failures: list[int]
    _route_failures: list[tuple[str, str, int]]
    failures_served: int


def mux_id(length: int = 36) -> str:
    """An id shaped like Mux's (alphanumeric, e.g. ``ZXp9tA2vF00ZCNn01u02NbtV2OE02x3zbOLt``)."""
    return "".join(secrets.choice(ALNUM) for _ in range(length))


def mux_error(status: int, kind: str, *messages: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "messages": list(messages)}}, status_code=status)


def find(items: list[dict[str, Any]], item_id: str) -> dict[str, Any]:
    for item in items:
        if item["id"] == item_id:
            return item
    raise LookupError(item_id)


class Faults:
    """ASGI wrapper applying the emulator's injected failures and hangs to every HTTP request."""

    def __init__(self, emulator: FaultSource, app: ASGIApp) -> None:
        self.emulator, self.inner = emulator, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            hanging = self.emulator._hanging
            if hanging is not None:
                await hanging.wait()
            status = self._route_failure(scope) or (self.emulator._failures.pop(0) if self.emulator._failures else None)
            if status is not None:
                self.emulator.failures_served += 1
                kind = "rate_limit_exceeded" if status == 429 else "server_error"
                await mux_error(status, kind, f"injected failure ({status})")(scope, receive, send)
                return
        await self.inner(scope, receive, send)

    def _route_failure(self, scope: Scope) -> int | None:
        """The status of the first injected route failure matching this request (method, path ending), used up."""
        for n, (method, suffix, status) in enumerate(self.emulator._route_failures):
            if scope["method"] == method and scope["path"].endswith(suffix):
                del self.emulator._route_failures[n]
                return status
        return None


@functools.cache
def rsa_key_pair() -> tuple[str, str]:
    """One RSA-2048 key pair per test process: (private PEM, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def mux_settings(settings: Settings, emulator: MuxEmulator, **overrides: Any) -> Settings:
    """``settings`` pointed at ``emulator``: API and stats URLs, token, webhook secret and a URL signing key
    (private key base64-encoded as Mux returns it; its public PEM in ``emulator.signing_keys``)."""
    private_pem, public_pem = rsa_key_pair()
    key_id = (emulator.signing_keys and next(iter(emulator.signing_keys))) or mux_id()
    emulator.signing_keys[key_id] = public_pem
    update: dict[str, Any] = {
        "mux_api_url": emulator.url,
        "mux_stats_url": emulator.url,
        "mux_token_id": emulator.token_id,
        "mux_token_secret": emulator.token_secret,
        "mux_webhook_secret": emulator.webhook_secret,
        "mux_signing_key_id": key_id,
        "mux_signing_private_key": base64.b64encode(private_pem.encode()).decode(),
    }
    update.update(overrides)
    for name in SECRET_FIELDS:
        if isinstance(update.get(name), str):
            update[name] = SecretStr(update[name])
    return settings.model_copy(update=update)
