"""The local RTMP ingest server (asyncio): authenticates publishes by stream key and feeds ffmpeg.

An encoder (OBS: Server = ``rtmp://host:1935/live``, Stream Key = the stream's key) connects, publishes, and
its media becomes HLS. Bad input only costs its own connection: a failed handshake, garbage bytes, an unknown
or ended stream key closes that connection and nothing else.

Publishers as encoders behave (see :mod:`livecast.providers.local.publishers` for who may publish):

* a new publish with the key of a stream whose publisher has stalled (no media for a second: a half-open
  connection after a network blip) takes over: the old connection is dropped, its ffmpeg writes its last
  segment and exits, a new one continues the playlist after ``EXT-X-DISCONTINUITY``; the status stays;
* a publisher that sends no media for ``idle_timeout`` seconds is dropped (then the stream is ``RECONNECTING``);
* ``FCUnpublish``/``deleteStream``/``closeStream`` (OBS's Stop Streaming) is a clean stop: the domain ends the
  stream at once (the stream's ``end_on_unpublish``), where a dropped connection keeps the reconnect window;
* every ffmpeg the ingest starts is stopped when its publisher goes (terminated, then killed, if it lingers).

The lifecycle decisions are not made here: ``hooks.IngestHooks`` carries them to the domain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from livecast.providers.local import rtmp
from livecast.providers.local.admission import PendingConnections, PendingSlot
from livecast.providers.local.chunks import PUBLISHING, ChunkReader
from livecast.providers.local.hooks import IngestHooks, PublishRefused
from livecast.providers.local.pipeline import TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, PipelineBroken
from livecast.providers.local.publishers import Publisher
from livecast.providers.local.publishing import IngestConfig, IngestStreams
from livecast.providers.local.session import StreamSession

__all__ = ["IngestConfig", "RTMPIngest"]

logger = logging.getLogger(__name__)

PUBLISH_CLOSE_COMMANDS = frozenset({"deleteStream", "closeStream", "FCUnpublish"})
NEGOTIATION_COMMANDS = frozenset({"connect", "createStream", "publish"})
"""The commands answered before publish; others (``releaseStream``, ``FCPublish``, ...) are not even decoded."""
CLOSE_GRACE = 5.0
"""Seconds a closed connection has to take the bytes still queued for it before it is dropped."""


class RTMPIngest:
    def __init__(self, config: IngestConfig, hooks: IngestHooks) -> None:
        self.config = config
        self.hooks = hooks
        self.streams = IngestStreams(config, hooks)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._pending = PendingConnections(per_address=config.max_pending_per_address, total=config.max_pending)

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def sessions(self) -> dict[str, StreamSession]:
        """The streams this ingest serves, by stream id."""
        return self.streams.sessions

    async def start(self) -> None:
        """Adopt the streams this ingest served before it (re)started (``hooks.adopt``), then listen."""
        for stream in await self.hooks.adopt():
            await self.streams.adopt(stream)
        self._server = await asyncio.start_server(self._on_connection, self.config.host, self.config.port)
        logger.info("RTMP ingest listening on %s:%s", self.config.host, self.port)

    async def stop(self) -> None:
        """Stop accepting, drop publishers, stop ffmpeg (playlists stay resumable; no ENDLIST). The streams that
        were publishing go ``RECONNECTING``: their encoders may come back to this ingest after a restart."""
        if self._server is not None:
            self._server.close()
        publishing = self.streams.drop_all()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self.streams.close_all(publishing)

    async def end_stream(self, stream_id: str) -> None:
        """The stream ended (owner, timer, worker): disconnect its encoder and write ``EXT-X-ENDLIST``."""
        await self.streams.end_stream(stream_id)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        slot = self._pending.admit(peer)
        try:
            if slot is None:
                logger.debug("RTMP connection from %s refused: too many connections not publishing", peer)
                return
            await self._serve(reader, writer, slot)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, rtmp.RTMPProtocolError) as e:
            logger.info("RTMP connection from %s dropped: %s", peer, type(e).__name__ if not str(e) else e)
        except PipelineBroken as e:
            logger.error("RTMP publish from %s stopped, ffmpeg keeps failing: %s", peer, e)
        except Exception:
            logger.exception("RTMP connection from %s failed", peer)
        finally:
            if slot is not None:
                slot.release()
            self._connections.discard(task)
            writer.close()
            try:  # a half-open peer never takes what is left to send: drop it then
                async with asyncio.timeout(CLOSE_GRACE):
                    await writer.wait_closed()
            except Exception:
                writer.transport.abort()
            except BaseException:  # cancelled (the ingest stops)
                writer.transport.abort()
                raise

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slot: PendingSlot) -> None:
        chunks = ChunkReader(reader)  # small limits (chunks.BEFORE_PUBLISH) until the publish is authorised
        async with asyncio.timeout(self.config.handshake_timeout):
            await rtmp.server_handshake(reader, writer)
            stream_key, msg_stream_id = await self._negotiate(chunks, writer)
        publisher = Publisher(writer=writer, task=asyncio.current_task())
        session: StreamSession | None = None
        try:
            try:
                session = self.streams.session(await self.hooks.authorize(stream_key))
                await self.streams.start(session, publisher)
            except PublishRefused as refused:
                logger.info("RTMP publish refused: %s", refused.reason)
                if session is not None:
                    self.streams.forget_if_idle(session)
                await _send(writer, rtmp.on_status("error", "NetStream.Publish.BadName", refused.reason, msg_stream_id))
                return
            slot.release()
            chunks.limits = PUBLISHING
            await _send(
                writer,
                rtmp.user_control_stream_begin(msg_stream_id),
                rtmp.on_status("status", "NetStream.Publish.Start", "publishing", msg_stream_id),
            )
            logger.info("stream %s: encoder publishing", session.stream_id)
            await self._pump(session, publisher, chunks, writer)
        finally:
            if session is not None:
                await self.streams.finish(session, publisher)

    async def _negotiate(self, chunks: ChunkReader, writer: asyncio.StreamWriter) -> tuple[str, int]:
        """Answer connect / createStream until ``publish``; returns (stream key, message stream id)."""
        from pyrtmp.messages.command import NCConnect, NCCreateStream, NSPublish

        while True:
            msg = await chunks.read_message()
            if msg.type_id != rtmp.MSG_COMMAND_AMF0 or rtmp.amf_name(msg) not in NEGOTIATION_COMMANDS:
                continue
            command = rtmp.decode_amf(msg)
            if isinstance(command, NCConnect):
                await _send(
                    writer,
                    rtmp.control(rtmp.MSG_WINDOW_ACK_SIZE, 5_000_000),
                    rtmp.control(rtmp.MSG_SET_PEER_BANDWIDTH, 5_000_000, b"\x02"),
                    rtmp.control(rtmp.MSG_SET_CHUNK_SIZE, rtmp.SERVER_CHUNK_SIZE),
                    chunk_size=128,
                )
                reply = command.create_response()
                await _send(writer, rtmp.Message(rtmp.MSG_COMMAND_AMF0, 0, 0, reply.payload))
            elif isinstance(command, NCCreateStream):
                reply = command.create_response()
                await _send(writer, rtmp.Message(rtmp.MSG_COMMAND_AMF0, 0, 0, reply.payload))
            elif isinstance(command, NSPublish):
                key = str(command.publishing_name or "").split("?", 1)[0]
                return key, msg.stream_id or 1

    async def _pump(
        self, session: StreamSession, publisher: Publisher, chunks: ChunkReader, writer: asyncio.StreamWriter
    ) -> None:
        acked, window = 0, 2_500_000
        loop, idle = asyncio.get_running_loop(), self.config.idle_timeout
        try:
            async with asyncio.timeout_at(loop.time() + idle) as silence:
                while True:
                    msg = await chunks.read_message()
                    if chunks.bytes_read - acked >= window:
                        acked = chunks.bytes_read
                        await _send(writer, rtmp.control(rtmp.MSG_ACK, acked & 0xFFFFFFFF))
                    if msg.type_id in (rtmp.MSG_AUDIO, rtmp.MSG_VIDEO):
                        publisher.last_media = now = loop.time()
                        silence.reschedule(now + idle)
                        await session.feed(
                            TAG_AUDIO if msg.type_id == rtmp.MSG_AUDIO else TAG_VIDEO, msg.timestamp, msg.payload
                        )
                    elif msg.type_id == rtmp.MSG_DATA_AMF0 and rtmp.is_small_metadata(msg):
                        meta = rtmp.decode_amf(msg)
                        if getattr(meta, "meta", None) is not None:
                            session.describe(meta.meta)
                            await session.feed(TAG_SCRIPT, msg.timestamp, meta.to_raw_meta())
                    elif msg.type_id == rtmp.MSG_WINDOW_ACK_SIZE:
                        window = max(1, int.from_bytes(msg.payload[:4], "big"))
                    elif msg.type_id == rtmp.MSG_COMMAND_AMF0 and rtmp.amf_name(msg) in PUBLISH_CLOSE_COMMANDS:
                        publisher.unpublished = True
                        return
        except TimeoutError:
            logger.info("stream %s: no media for %.0f s, the encoder is taken for gone", session.stream_id, idle)


async def _send(
    writer: asyncio.StreamWriter, *messages: rtmp.Message, chunk_size: int = rtmp.SERVER_CHUNK_SIZE
) -> None:
    for message in messages:
        writer.write(rtmp.encode_message(message, chunk_size))
    await writer.drain()


IngestFactory = Callable[[IngestConfig, IngestHooks], RTMPIngest]
