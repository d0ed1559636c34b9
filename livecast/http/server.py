"""uvicorn as livecast runs it: connection limits and request deadlines uvicorn does not have.

uvicorn closes idle kept-alive connections, but it gives a client unlimited time to send a request's headers
and body: one byte every few seconds keeps a connection (and its memory) forever (slow-loris), and a
connection that never sends anything is never closed. :class:`GuardedHttpToolsProtocol` adds:

* a **header deadline** (``LIVECAST_HTTP_HEADER_TIMEOUT_SECONDS``) from the connection's start, or from the
  first byte of the next request on a kept-alive connection, to the end of the headers: then the connection is
  closed (with ``408`` when nothing of the request was answered yet);
* a **body deadline** (``LIVECAST_HTTP_BODY_TIMEOUT_SECONDS``) from the end of the headers to the end of the
  body: the app sees the client disconnect;
* a **header size limit** (``LIVECAST_HTTP_MAX_HEADER_BYTES``, request line + headers): ``431`` and close.

Beyond these: at most ``LIVECAST_HTTP_MAX_CONNECTIONS`` open connections and running requests (uvicorn's
``limit_concurrency``: HTTP 503 after), websocket messages of at most ``LIVECAST_WS_MAX_MESSAGE_BYTES`` (close
1009), and ``X-Forwarded-*`` trusted only from ``LIVECAST_FORWARDED_ALLOW_IPS``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from livecast.settings import Settings

LINGER_SECONDS = 1.0
"""After refusing a request, seconds its connection stays open (reads dropped) so the client reads the answer."""


class HeadersTooLarge(Exception):
    """Raised from the parser's callbacks when the request line and headers pass their limit."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines and a header limit (module docstring). The class attributes
    are set per server by :func:`protocol_class`."""

    header_timeout = 10.0
    body_timeout = 30.0
    max_header_bytes = 64 * 1024
    _lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._in_headers = True
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers, self._header_bytes = True, 0
        if self._deadline is None:
            self._arm(self.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        self._arm(self.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self.max_header_bytes:
            self._too_large = True
            raise HeadersTooLarge

    def send_400_response(self, msg: str) -> None:
        if getattr(self, "_too_large", False):  # our callback's exception surfaced as a parser error
            self._too_large = False
            self._refuse(431, "request headers too large")
            return
        super().send_400_response(msg)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_headers and (self.cycle is None or self.cycle.response_complete):
            self._refuse(408, "request not received in time")
        else:
            self.transport.close()  # mid-body: the app sees http.disconnect

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` and close; what the client still sends meanwhile is read and dropped for up to
        :data:`LINGER_SECONDS` (closing with unread bytes would reset the connection before the client reads
        the answer)."""
        if self.transport.is_closing() or self._lingering:
            return
        body = message.encode("ascii")
        head = b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
        self.transport.write(STATUS_LINE[status] + head + body)
        self._lingering = True
        self._disarm()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if not self._lingering:
            super().data_received(data)


def protocol_class(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """:class:`GuardedHttpToolsProtocol` with ``settings``' deadlines and header limit."""
    return type("LivecastHttpProtocol", (GuardedHttpToolsProtocol,), {
        "header_timeout": settings.http_header_timeout_seconds,
        "body_timeout": settings.http_body_timeout_seconds,
        "max_header_bytes": settings.http_max_header_bytes,
    })  # fmt: skip


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """How livecast serves ``app`` (``livecast serve`` and the tests' servers alike)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.http_port,
        "log_level": settings.log_level.lower(),
        "http": protocol_class(settings),
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        "ws_max_size": settings.ws_max_message_bytes,
        "limit_concurrency": settings.http_max_connections,
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or "",
        "server_header": False,
    }
    return uvicorn.Config(app, **(options | overrides))
