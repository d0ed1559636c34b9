"""A local emulator of the Mux Video API (``/video/v1/live-streams...``) that the real mux-python SDK talks to.

Served by uvicorn inside the test's event loop (:func:`running_mux_emulator`). It keeps live streams in
memory as the JSON Mux returns (``emulator.live_streams[id]``), checks HTTP Basic auth (token id / secret;
401 otherwise), refuses malformed input like Mux (400 ``{"error": {"type": "invalid_parameters", "messages":
[...]}}``, rules in :mod:`tests.emulators.mux_rules`) and can fail on purpose: :meth:`MuxEmulator.fail_next`
(HTTP errors), :meth:`MuxEmulator.fail_route` (HTTP errors of one route), :meth:`MuxEmulator.hang` (no
answer), :meth:`MuxEmulator.stop` / :meth:`MuxEmulator.down` (connection refused). The Mux Data / stats routes come from :mod:`tests.emulators.mux_data`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.emulators import mux_rules
from tests.emulators.mux_data import data_routes
from tests.emulators.mux_support import Faults, find, mux_error, mux_id, mux_settings
from tests.emulators.serving import start_serving, stop_serving
from tests.helpers.processes import free_port

__all__ = ["BASE", "MuxEmulator", "mux_settings", "running_mux_emulator"]

BASE = "/video/v1/live-streams"
NOT_FOUND = "The requested resource either doesn't exist or you don't have access to it."


class MuxEmulator:
    """The emulated Mux account: credentials, live streams (Mux JSON, inspectable) and fault injection."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_id = "emu-" + secrets.token_hex(8)
        self.token_secret = secrets.token_urlsafe(24)
        self.webhook_secret = secrets.token_hex(16)
        self.signing_keys: dict[str, str] = {}
        """Signing key id → public key PEM (what Mux keeps of the URL signing keys it minted)."""
        self.live_streams: dict[str, dict[str, Any]] = {}
        self.unauthorized = 0
        """Requests refused with 401 (wrong or missing credentials)."""
        self.requests: list[tuple[str, str, Any]] = []
        """Every authenticated request to the Video API: ``(method, path, JSON body or None)``."""
        self._failures: list[int] = []
        self._route_failures: list[tuple[str, str, int]] = []
        self.failures_served = 0
        """Injected failures answered so far (each is one HTTP attempt of a client)."""
        self._hanging: asyncio.Event | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.app = Faults(self, Starlette(routes=[*self._routes(), *data_routes(self)]))

    # -- fault injection ---------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """The next ``n`` requests (any path) get ``status`` with a Mux error body instead of an answer."""
        self._failures.extend([status] * n)

    def fail_route(self, method: str, path_suffix: str, status: int = 503, n: int = 1) -> None:
        """The next ``n`` ``method`` requests whose path ends with ``path_suffix`` get ``status`` (a Mux error
        body), e.g. ``fail_route("DELETE", f"/playback-ids/{pid}", 500)``; other requests are answered."""
        self._route_failures.extend([(method.upper(), path_suffix, status)] * n)

    @property
    def pending_failures(self) -> int:
        """Injected failures not served yet."""
        return len(self._failures)

    def hang(self) -> None:
        """From now on requests get no answer until :meth:`release` (or :meth:`stop`)."""
        if self._hanging is None:
            self._hanging = asyncio.Event()

    def release(self) -> None:
        """Let hanging requests (and new ones) through again."""
        if self._hanging is not None:
            self._hanging.set()
            self._hanging = None

    async def start(self) -> None:
        """Serve on ``self.port`` (again, after :meth:`stop`)."""
        self._server, self._task = await start_serving(self.app, self.port, "Mux emulator")

    async def stop(self) -> None:
        """Stop listening: clients get "connection refused" until :meth:`start`."""
        self.release()
        if self._server is not None and self._task is not None:
            await stop_serving(self._server, self._task)
            self._server = self._task = None

    @asynccontextmanager
    async def down(self) -> AsyncIterator[None]:
        """An outage: the emulator is stopped inside the block and serves again after it."""
        await self.stop()
        try:
            yield
        finally:
            await self.start()

    # -- state -------------------------------------------------------------------------------------------
    def set_status(self, live_stream_id: str, status: str) -> None:
        """Simulate the encoder side: ``active`` (connected; an asset is recorded when ``new_asset_settings``
        is set, simulcast targets broadcast), ``idle`` (disconnected) or ``disabled``."""
        stream = self.live_streams[live_stream_id]
        stream["status"] = status
        if status == "active":
            if "new_asset_settings" in stream and not stream.get("active_asset_id"):
                stream["active_asset_id"] = mux_id()
                stream["recent_asset_ids"].append(stream["active_asset_id"])
            for target in stream["simulcast_targets"]:
                target["status"] = "broadcasting"
        else:
            stream.pop("active_asset_id", None)
            for target in stream["simulcast_targets"]:
                target["status"] = "idle"

    # -- routes ------------------------------------------------------------------------------------------
    def _routes(self) -> list[Route]:
        one, targets = BASE + "/{id}", BASE + "/{id}/simulcast-targets"
        table: list[tuple[str, Callable[..., Awaitable[Response]], str]] = [
            (BASE, self._create, "POST"),
            (BASE, self._list, "GET"),
            (one, self._get, "GET"),
            (one, self._update, "PATCH"),
            (one, self._delete, "DELETE"),
            (one + "/complete", self._complete, "PUT"),
            (one + "/reset-stream-key", self._reset_key, "POST"),
            (one + "/enable", self._enable, "PUT"),
            (one + "/disable", self._disable, "PUT"),
            (targets, self._add_target, "POST"),
            (targets + "/{tid}", self._get_target, "GET"),
            (targets + "/{tid}", self._delete_target, "DELETE"),
            (one + "/playback-ids", self._add_playback_id, "POST"),
            (one + "/playback-ids/{pid}", self._get_playback_id, "GET"),
            (one + "/playback-ids/{pid}", self._delete_playback_id, "DELETE"),
        ]
        return [Route(path, self._guarded(handler), methods=[method]) for path, handler, method in table]

    def _guarded(self, handler: Callable[..., Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            if not self._authorized(request.headers.get("authorization", "")):
                self.unauthorized += 1
                return mux_error(401, "unauthorized", "Unauthorized request")
            try:
                raw = await request.body()
            except ClientDisconnect:  # the client gave up (e.g. while the emulator hung)
                return Response(status_code=499)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return mux_error(400, "invalid_parameters", "The request body is not valid JSON")
            self.requests.append((request.method, request.url.path, copy.deepcopy(body)))
            stream: dict[str, Any] | None = None
            if "id" in request.path_params:
                stream = self.live_streams.get(request.path_params["id"])
                if stream is None:
                    return mux_error(404, "not_found", NOT_FOUND)
            try:
                return await handler(request, stream, body)
            except mux_rules.MuxInvalid as e:
                return mux_error(400, "invalid_parameters", *e.messages)
            except LookupError:
                return mux_error(404, "not_found", NOT_FOUND)

        return endpoint

    def _authorized(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.token_id) and secrets.compare_digest(password, self.token_secret)

    async def _create(self, request: Request, _: None, body: Any) -> Response:
        body = mux_rules.create_live_stream(body)
        policies = body.pop("playback_policies", None) or body.pop("playback_policy", None) or []
        body.pop("playback_policy", None)
        stream_id = mux_id()
        stream: dict[str, Any] = {
            "id": stream_id,
            "created_at": str(int(time.time())),
            "stream_key": str(uuid.uuid4()),
            "status": "idle",
            "playback_ids": [{"id": mux_id(), "policy": p} for p in policies],
            "recent_asset_ids": [],
            "reconnect_window": 60,
            "latency_mode": "standard",
            "max_continuous_duration": 43200,
            "srt_passphrase": secrets.token_urlsafe(16),
            "test": False,
            **body,
            "simulcast_targets": [],
        }
        if stream["test"]:
            stream["max_continuous_duration"] = min(stream["max_continuous_duration"], 300)
        for target in body.get("simulcast_targets") or []:
            stream["simulcast_targets"].append(self._target(target))
        self.live_streams[stream_id] = stream
        return JSONResponse({"data": stream}, status_code=201)

    async def _list(self, request: Request, _: None, __: Any) -> Response:
        limit = int(request.query_params.get("limit", 25))
        page = int(request.query_params.get("page", 1))
        streams = list(self.live_streams.values())[(page - 1) * limit : page * limit]
        return JSONResponse({"data": streams})

    async def _get(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        return JSONResponse({"data": stream})

    async def _update(self, request: Request, stream: dict[str, Any], body: Any) -> Response:
        stream.update(mux_rules.update_live_stream(body))
        return JSONResponse({"data": stream})

    async def _delete(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        del self.live_streams[stream["id"]]
        return Response(status_code=204)

    async def _complete(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        if stream["status"] == "active":
            self.set_status(stream["id"], "idle")
        return JSONResponse({"data": {}})

    async def _reset_key(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        stream["stream_key"] = str(uuid.uuid4())
        return JSONResponse({"data": stream}, status_code=201)

    async def _enable(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        if stream["status"] == "disabled":
            stream["status"] = "idle"
        return JSONResponse({"data": {}})

    async def _disable(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        self.set_status(stream["id"], "disabled")
        return JSONResponse({"data": {}})

    def _target(self, body: dict[str, Any]) -> dict[str, Any]:
        target = {"id": mux_id(), "status": "idle", **mux_rules.simulcast_target(body)}
        return target

    async def _add_target(self, request: Request, stream: dict[str, Any], body: Any) -> Response:
        if stream["status"] != "idle":
            raise mux_rules.MuxInvalid("Simulcast targets can only be added while the live stream is idle")
        target = self._target(body)
        stream["simulcast_targets"].append(target)
        return JSONResponse({"data": target}, status_code=201)

    async def _get_target(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        return JSONResponse({"data": find(stream["simulcast_targets"], request.path_params["tid"])})

    async def _delete_target(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        target = find(stream["simulcast_targets"], request.path_params["tid"])
        if stream["status"] != "idle":
            raise mux_rules.MuxInvalid("Simulcast targets can only be deleted while the live stream is idle")
        stream["simulcast_targets"].remove(target)
        return Response(status_code=204)

    async def _add_playback_id(self, request: Request, stream: dict[str, Any], body: Any) -> Response:
        playback = {"id": mux_id(), "policy": mux_rules.playback_id(body)}
        stream["playback_ids"].append(playback)
        return JSONResponse({"data": playback}, status_code=201)

    async def _get_playback_id(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        return JSONResponse({"data": find(stream["playback_ids"], request.path_params["pid"])})

    async def _delete_playback_id(self, request: Request, stream: dict[str, Any], _: Any) -> Response:
        stream["playback_ids"].remove(find(stream["playback_ids"], request.path_params["pid"]))
        return Response(status_code=204)


@asynccontextmanager
async def running_mux_emulator() -> AsyncIterator[MuxEmulator]:
    """A :class:`MuxEmulator` served by uvicorn on a free port in this event loop; stopped on exit."""
    emulator = MuxEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
