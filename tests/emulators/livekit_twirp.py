"""The LiveKit emulator's protocol side: Twirp codec and errors, API-key JWT checks and grants, webhook signing.

Behaves as livekit-server does where livecast depends on it (see :mod:`tests.emulators.livekit`):

* bodies ``application/protobuf`` (what the SDK sends) or ``application/json``; the answer uses the request's
  content type. Errors are Twirp JSON ``{"code": ..., "msg": ...}`` with the matching HTTP status (:data:`STATUS`).
* ``Authorization: Bearer <JWT>``: HS256 signed with the API secret, ``iss`` = the API key, ``exp`` in the
  future; grants checked like livekit-server's ``Ensure*Permission`` (:func:`require`, :func:`require_admin`):
  a missing or insufficient grant is ``unauthenticated`` "permissions denied".
* webhooks: header ``Authorization: <JWT>`` signed with the API secret, claim ``sha256`` = base64 SHA-256 of the
  body (:func:`webhook_headers`).
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import jwt
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from starlette.responses import JSONResponse, Response

STATUS = {
    "bad_route": 404, "malformed": 400, "invalid_argument": 400, "unauthenticated": 401, "permission_denied": 403,
    "not_found": 404, "already_exists": 409, "failed_precondition": 412, "resource_exhausted": 429,
    "internal": 500, "unavailable": 503,
}  # fmt: skip
"""Twirp error code → HTTP status (Twirp spec, as livekit-server answers)."""


class TwirpFailure(Exception):
    """A Twirp error answer: ``code`` (a :data:`STATUS` key) and ``msg``."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg = code, msg

    def response(self) -> Response:
        return JSONResponse({"code": self.code, "msg": self.msg}, status_code=STATUS.get(self.code, 500))


def decode(request_class: type[Message], content_type: str, body: bytes) -> Message:
    """The request message from a protobuf or JSON body; ``malformed`` / ``bad_route`` (other content types)."""
    try:
        if content_type == "application/protobuf":
            return request_class.FromString(body)
        if content_type == "application/json":
            return json_format.Parse(body or b"{}", request_class())
    except (DecodeError, json_format.ParseError, UnicodeDecodeError) as e:
        raise TwirpFailure("malformed", f"the request body could not be decoded: {e}") from e
    raise TwirpFailure("bad_route", f"unexpected Content-Type: {content_type!r}")


def encode(answer: Message, content_type: str) -> Response:
    """The answer in the request's content type (JSON for ``application/json``, else protobuf)."""
    if content_type == "application/json":
        return Response(json_format.MessageToJson(answer), media_type="application/json")
    return Response(answer.SerializeToString(), media_type="application/protobuf")


def bearer_claims(header: str, api_key: str, api_secret: str) -> dict[str, Any]:
    """The verified claims of an ``Authorization: Bearer <JWT>`` header (``{}`` without one: no grants);
    ``unauthenticated`` for a bad scheme, an unknown API key, a bad signature or an expired token."""
    if not header:
        return {}  # no token: no grants (each call then fails its permission check)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise TwirpFailure("unauthenticated", "invalid authorization header: must start with Bearer")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as e:
        raise TwirpFailure("unauthenticated", f"invalid authorization token: {e}") from e
    if unverified.get("iss") != api_key:
        raise TwirpFailure("unauthenticated", "invalid API key")
    try:
        return jwt.decode(token, api_secret, algorithms=["HS256"], issuer=api_key, options={"require": ["exp", "iss"]})
    except jwt.PyJWTError as e:
        raise TwirpFailure("unauthenticated", f"invalid authorization token: {e}") from e


def require(claims: dict[str, Any], grant: str) -> None:
    """The token's ``video`` grant must have ``grant`` (e.g. ``roomCreate``, ``roomList``, ``roomRecord``)."""
    if not (claims.get("video") or {}).get(grant):
        raise TwirpFailure("unauthenticated", "permissions denied")


def require_admin(claims: dict[str, Any], room: str) -> None:
    """``roomAdmin`` for ``room`` (the grant's ``room`` must name it)."""
    video = claims.get("video") or {}
    if not video.get("roomAdmin") or (room and video.get("room") != room):
        raise TwirpFailure("unauthenticated", "permissions denied")


def webhook_headers(body: bytes, api_key: str, api_secret: str) -> dict[str, str]:
    """The headers LiveKit sends a webhook ``body`` with: content type and the signed JWT (10 min)."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    now = int(time.time())
    claims = {"iss": api_key, "exp": now + 600, "nbf": now, "sha256": digest}
    token = jwt.encode(claims, api_secret, algorithm="HS256")
    return {"content-type": "application/webhook+json", "authorization": token}
