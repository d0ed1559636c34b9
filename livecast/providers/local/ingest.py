"""The local RTMP ingest server (asyncio): authenticates publishes by stream key and feeds ffmpeg.

An encoder (OBS: Server = ``rtmp://host:1935/live``, Stream Key = the stream's key) connects, publishes, and
its media becomes HLS. Bad input only costs its own connection: a failed handshake, garbage bytes, an unknown
or ended stream key, or a second publisher on a live key closes that connection and nothing else.
The lifecycle decisions are not made here: ``hooks.IngestHooks`` carries them to the domain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livecast.providers.local import rtmp
from livecast.providers.local.admission import PendingConnections, PendingSlot
from livecast.providers.local.chunks import PUBLISHING, ChunkReader
from livecast.providers.local.hooks import IngestHooks, PublishRefused
from livecast.providers.local.pipeline import TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, HlsPipeline, PipelineBroken
from livecast.providers.local.session import StreamSession

logger = logging.getLogger(__name__)

PUBLISH_CLOSE_COMMANDS = frozenset({"deleteStream", "closeStream", "FCUnpublish"})
NEGOTIATION_COMMANDS = frozenset({"connect", "createStream", "publish"})
"""The commands answered before publish; others (``releaseStream``, ``FCPublish``, ...) are not even decoded."""


@dataclass(frozen=True)
class IngestConfig:
    host: str
    port: int
    media_dir: Path
    ffmpeg: str
    segment_seconds: float = 2.0
    list_size: int = 6
    handshake_timeout: float = 10.0
    idle_timeout: float = 15.0
    health_seconds: float = 5.0
    """Seconds between two health samples of a publishing stream."""
    max_pending_per_address: int = 8
    max_pending: int = 256
    """Connections not publishing yet, per client address (IPv6: per /64) and in total; more are closed at once."""


class RTMPIngest:
    def __init__(self, config: IngestConfig, hooks: IngestHooks) -> None:
        self.config = config
        self.hooks = hooks
        self.sessions: dict[str, StreamSession] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._pending = PendingConnections(per_address=config.max_pending_per_address, total=config.max_pending)

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, self.config.host, self.config.port)
        logger.info("RTMP ingest listening on %s:%s", self.config.host, self.port)

    async def stop(self) -> None:
        """Stop accepting, drop publishers, stop ffmpeg (playlists stay resumable; no ENDLIST)."""
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions.values()):
            session.ending = True
            if session.window_task is not None:
                session.window_task.cancel()
            if session.publisher is not None:
                session.publisher.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for session in list(self.sessions.values()):
            await session.end_publish()
        self.sessions.clear()

    async def end_stream(self, stream_id: str) -> None:
        """The stream ended (owner, timer, worker): disconnect its encoder and write ``EXT-X-ENDLIST``."""
        session = self.sessions.pop(stream_id, None)
        if session is not None:
            async with session.lock:
                await session.finalize()
            await self._stopped(stream_id, stream_over=True)

    async def _stopped(self, stream_id: str, *, stream_over: bool) -> None:
        try:
            await self.hooks.publish_stopped(stream_id, stream_over=stream_over)
        except Exception:
            logger.exception("publish-stopped hook failed for stream %s", stream_id)

    def _make_pipeline(self, out_dir: Path) -> HlsPipeline:
        c = self.config
        return HlsPipeline(ffmpeg=c.ffmpeg, out_dir=out_dir, segment_seconds=c.segment_seconds, list_size=c.list_size)

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
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slot: PendingSlot) -> None:
        chunks = ChunkReader(reader)  # small limits (chunks.BEFORE_PUBLISH) until the publish is authorised
        async with asyncio.timeout(self.config.handshake_timeout):
            await rtmp.server_handshake(reader, writer)
            stream_key, msg_stream_id = await self._negotiate(chunks, writer)
        try:
            grant = await self.hooks.authorize(stream_key)
            session = self.sessions.get(grant.stream_id)
            if session is not None and (session.publisher is not None or session.ending):
                raise PublishRefused("this stream already has a publisher")
            if grant.drives_lifecycle:
                await self.hooks.connected(grant.stream_id)
        except PublishRefused as refused:
            logger.info("RTMP publish refused: %s", refused.reason)
            await _send(writer, rtmp.on_status("error", "NetStream.Publish.BadName", refused.reason, msg_stream_id))
            return
        slot.release()
        chunks.limits = PUBLISHING
        if session is None:
            session = StreamSession(
                stream_id=grant.stream_id,
                out_dir=self.config.media_dir / grant.playback_id,
                make_pipeline=self._make_pipeline,
                drives_lifecycle=grant.drives_lifecycle,
            )
            self.sessions[grant.stream_id] = session
        await self._publish(session, chunks, writer, msg_stream_id)

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

    async def _publish(
        self, session: StreamSession, chunks: ChunkReader, writer: asyncio.StreamWriter, msg_stream_id: int
    ) -> None:
        stream_id = session.stream_id
        try:
            async with session.lock:
                if session.window_task is not None:
                    session.window_task.cancel()
                    session.window_task = None
                session.publisher = writer
                await session.begin_publish(
                    (lambda: self.hooks.media_ready(stream_id)) if session.drives_lifecycle else _media_only,
                    observer=self.hooks.media_observer(stream_id),
                    on_health=lambda observer: self.hooks.health_due(stream_id, observer),
                    health_seconds=self.config.health_seconds,
                )
            await _send(
                writer,
                rtmp.user_control_stream_begin(msg_stream_id),
                rtmp.on_status("status", "NetStream.Publish.Start", "publishing", msg_stream_id),
            )
            logger.info("stream %s: encoder publishing", stream_id)
            await self._pump(session, chunks, writer)
        finally:
            await self._after_publish(session)

    async def _pump(self, session: StreamSession, chunks: ChunkReader, writer: asyncio.StreamWriter) -> None:
        acked, window = 0, 2_500_000
        while True:
            msg = await asyncio.wait_for(chunks.read_message(), self.config.idle_timeout)
            if chunks.bytes_read - acked >= window:
                acked = chunks.bytes_read
                await _send(writer, rtmp.control(rtmp.MSG_ACK, acked & 0xFFFFFFFF))
            if msg.type_id in (rtmp.MSG_AUDIO, rtmp.MSG_VIDEO):
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
                return

    async def _after_publish(self, session: StreamSession) -> None:
        async with session.lock:
            session.publisher = None
            if session.ending:
                return
            await session.end_publish()
            logger.info("stream %s: encoder disconnected", session.stream_id)
            await self._stopped(session.stream_id, stream_over=False)
            if not session.drives_lifecycle:  # egress: the room's participants decide what the stream does
                return
            try:
                window = await self.hooks.disconnected(session.stream_id)
            except Exception:
                logger.exception("disconnect hook failed for stream %s", session.stream_id)
                window = 0
            if window > 0:
                session.window_task = asyncio.create_task(self._expire(session, window))
                return
        await self.end_stream(session.stream_id)  # outside the lock: end_stream takes it

    async def _expire(self, session: StreamSession, window: float) -> None:
        await asyncio.sleep(window)
        if session.publisher is not None:  # the encoder came back just in time
            return
        try:
            await self.hooks.window_expired(session.stream_id)
        finally:
            await self.end_stream(session.stream_id)


async def _media_only() -> None:
    """A media-only publish's first segment: nothing to tell the domain."""


async def _send(
    writer: asyncio.StreamWriter, *messages: rtmp.Message, chunk_size: int = rtmp.SERVER_CHUNK_SIZE
) -> None:
    for message in messages:
        writer.write(rtmp.encode_message(message, chunk_size))
    await writer.drain()


IngestFactory = Callable[[IngestConfig, IngestHooks], RTMPIngest]
