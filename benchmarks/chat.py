"""Chat benchmark: sustained messages/s into one stream with N websocket subscribers on one ``livecast serve``.

    .venv/bin/python benchmarks/chat.py [--subscribers 1000] [--rate 500] [--seconds 20] [--bus memory|redis]
                                        [--writers 4] [--subscriber-processes 2] [--postgres postgres://...] [--keep]

What it does:

1. Starts one ``livecast serve`` API process in a fresh temporary directory (own SQLite DB unless
   ``--postgres``, free port, ``LIVECAST_EMBEDDED_INGEST=false``, ``LIVECAST_CHAT_RATE_LIMIT`` so high it
   never refuses), creates ``--writers`` users' tokens with ``livecast token create`` and one stream over GraphQL.
2. Separate subscriber processes (multiprocessing; raw ``websockets`` speaking ``graphql-transport-ws`` on
   uvloop) open N websockets, each with one live ``chatMessages(streamId)`` subscription (no
   ``afterSequence``). They read each frame's sequences and send times with one regular-expression pass
   (GraphQL keeps the selection's field order), checked against the frame's count of messages, and fall back
   to decoding the JSON otherwise (the run prints how many frames were decoded): JSON-decoding 10 million
   deliveries cost these processes more CPU than the server used, on the same two cores. Readiness: the benchmark sends probe messages until every subscriber has received one;
   a subscriber must then receive every sequence from its first probe to the last accepted message.
3. A separate writer process (asyncio, ``--inflight`` keep-alive HTTP/1.1 connections of its own minimal
   client: httpx's CPU cost made the writer the bottleneck) posts ``sendChatMessage`` at ``--rate``
   messages/s (open loop: message i is due at T0 + i/rate, at most ``--inflight`` requests at once; a
   kept-alive connection the server closed while idle, before answering, is reopened and the POST resent)
   for ``--seconds``, rotating the writers' tokens. Each message's content carries its send time
   (``time.time()`` just before the POST) and a unique id.
4. Drain: once the writers are done, subscribers wait (up to ``--drain`` s) until they saw the last accepted
   sequence, then report.

Figures: accepted msgs/s (HTTP 200 + ``ChatMessage``), refused (typed errors) and errors; delivered msgs/s
across subscribers; end-to-end latency p50/p99 (send time -> subscriber receipt of the frame, same clock);
losses (expected deliveries - received) and per subscriber whether its sequences are gap-free and in order;
the API process's CPU (``/proc/<pid>/stat``, over the send window) and RSS. Target: 500 msgs/s accepted with
p99 <= 1 s and 0 loss, with 1,000 subscribers.

Exit status: 0 when the benchmark ran (even if the target is missed: it prints FAIL); 1 on errors (server did
not start, subscribers could not connect or never got ready, the server logged errors). Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (
    SERVER_PROBLEM,
    BenchError,
    free_port,
    graphql,
    livecast_command,
    machine_jiffies,
    percentile,
    proc_cpu_seconds,
    run_in_tempdir,
    stop_process,
    tail,
    wait_healthy,
)  # fmt: skip

TARGET_RATE = 500.0
TARGET_P99 = 1.0
CREATE = 'mutation { createStream(input: {title: "chat bench"}) { __typename ... on Stream { id } ... on Error { message } } }'
SEND = """mutation($s: ID!, $c: String!) { sendChatMessage(streamId: $s, content: $c) {
  __typename ... on ChatMessage { sequence } ... on Error { code } } }"""
FEED = """subscription($s: ID!) { chatMessages(streamId: $s) { events {
  __typename ... on ChatMessage { sequence content author { name } } } } }"""
FEED_MINIMAL = (
    """subscription($s: ID!) { chatMessages(streamId: $s) { events { ... on ChatMessage { sequence content } } } }"""
)
HIST_MS = 60_000  # latency histogram: 1 ms buckets up to 60 s (and one overflow bucket)


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in values:
                values[key] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


def hist_percentile(hist: list[int], p: float) -> float:
    """Nearest-rank percentile in seconds of a 1 ms histogram."""
    total = sum(hist)
    if not total:
        return float("nan")
    rank = max(1, min(total, round(p / 100 * total + 0.5)))
    seen = 0
    for ms_, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return (ms_ + 1) / 1000  # upper edge of the bucket
    return float("inf")


# ---------------------------------------------------------------------------------------- subscriber processes


class Subscriber:
    __slots__ = ("batches", "closing", "decoded", "disorder", "ended", "error", "first", "gaps", "last", "received")

    def __init__(self) -> None:
        self.first: int | None = None  # first sequence received (a probe)
        self.last = 0
        self.received = 0
        self.gaps = 0  # times the next sequence was > last + 1
        self.disorder = 0  # sequences <= last (duplicate or out of order)
        self.ended: str | None = None
        self.error: str | None = None
        self.batches = 0
        self.decoded = 0  # frames read with json.loads (not the regular-expression fast path)
        self.closing = False  # the watchdog is closing its websocket: the run is over for it


FRAME_PREFIX = '{"id":"1","type":"next","payload":{"data":{"chatMessages":{"events":'
"""How the server's shared chat frames start (graphql-transport-ws ``next`` for operation id ``1``)."""
CHAT_FIELDS = re.compile(r'"sequence":\s*(\d+),\s*"content":\s*"(?:m([0-9.]+)\|)?')
"""``sequence`` and, for timed messages, the send time, of each ChatMessage in a frame: GraphQL responses
list fields in selection order (``sequence content ...``), so the load processes can read a frame with one
regular-expression pass instead of decoding its JSON (which cost them more CPU than the server spent on it)."""


def _record(sub: Subscriber, hist: list[int], t: float, events: list[tuple[int, str | None]], ready, i: int) -> None:
    """Count one frame's messages: ``events`` are (sequence, send time text or None for probes)."""
    last_bucket = HIST_MS
    for seq, sent in events:
        if sub.first is None:
            sub.first = seq
            ready[i] = 1
        elif seq <= sub.last:
            sub.disorder += 1
            continue
        elif seq != sub.last + 1:
            sub.gaps += 1
        sub.last = seq
        sub.received += 1
        if sent:
            ms_ = int((t - float(sent)) * 1000)
            hist[ms_ if ms_ < last_bucket else last_bucket] += 1


def _slow_events(payload: dict) -> list[tuple[int, str | None]]:
    events = []
    for event in payload["data"]["chatMessages"]["events"]:
        seq = event.get("sequence")
        if seq is None:
            continue
        content = event["content"]
        events.append((seq, content[1 : content.index("|")] if content[0] == "m" else None))  # "m<send time>|..."
    return events


async def _subscribe(i: int, cfg: dict, sub: Subscriber, hist: list[int], shared: dict, ready, sockets: dict) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    query = FEED_MINIMAL if cfg["minimal"] else FEED
    try:
        async with connect(cfg["ws_url"], subprotocols=["graphql-transport-ws"], max_size=2**24,
                           open_timeout=60, ping_interval=None, close_timeout=2) as ws:  # fmt: skip
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": query, "variables": {"s": cfg["stream_id"]}}}))  # fmt: skip
            shared["connected"] += 1
            sockets[i] = ws  # the process's watchdog closes it once this subscriber is done (no timer per recv)
            now, findall, prefix = time.time, CHAT_FIELDS.findall, FRAME_PREFIX
            while True:
                try:
                    raw = await ws.recv()
                except ConnectionClosed:
                    if sub.closing:
                        return
                    raise
                t = now()
                if raw.startswith(prefix) and '"errors"' not in raw:
                    found = findall(raw)
                    if len(found) == raw.count('"sequence":'):  # every message read (else: decode it all)
                        sub.batches += 1
                        _record(sub, hist, t, [(int(seq), sent) for seq, sent in found], ready, i)
                        continue
                msg = json.loads(raw)
                sub.decoded += 1
                kind = msg.get("type")
                if kind == "next":
                    payload = msg["payload"]
                    if payload.get("errors"):
                        sub.ended = str(payload["errors"][0].get("extensions", {}).get("code") or payload["errors"][0])
                        return
                    sub.batches += 1
                    _record(sub, hist, t, _slow_events(payload), ready, i)
                elif kind == "error":
                    sub.ended = f"error: {msg.get('payload')}"
                    return
                elif kind == "complete":
                    sub.ended = "complete"
                    return
                elif kind == "ping":
                    await ws.send('{"type":"pong"}')
    except Exception as e:
        sub.error = f"{type(e).__name__}: {e}"[:200]
    finally:
        sockets.pop(i, None)


def subscriber_process(cfg: dict, indices: list[int], ready, final, stop, results) -> None:
    """One load process: subscribers ``indices``; reports counts and a latency histogram at the end."""
    raise_nofile()
    import uvloop

    async def main() -> None:
        subs = {i: Subscriber() for i in indices}
        hist = [0] * (HIST_MS + 1)
        shared = {"connected": 0, "final": 0}
        sockets: dict = {}  # subscriber index -> its open websocket
        closers: set[asyncio.Task] = set()

        def one(i: int):
            return _subscribe(i, cfg, subs[i], hist, shared, ready, sockets)

        def close_done(stop_at: float) -> None:
            """Close the websockets of subscribers that are done: saw the last accepted sequence, or out of time."""
            final_seq, over = shared["final"], time.monotonic() >= stop_at
            for i, ws in list(sockets.items()):
                sub = subs[i]
                if not sub.closing and (over or (final_seq and sub.last >= final_seq)):
                    sub.closing = True
                    closers.add(task := asyncio.create_task(ws.close()))
                    task.add_done_callback(closers.discard)

        async def opener() -> list[asyncio.Task]:
            tasks = []
            for n, i in enumerate(indices):
                tasks.append(asyncio.create_task(one(i)))
                if n % cfg["connect_concurrency"] == cfg["connect_concurrency"] - 1:
                    await asyncio.sleep(cfg["connect_pause"])
            return tasks

        tasks = await opener()
        stop_at = 0.0
        while not stop.is_set():  # the parent sets ``final`` (last accepted sequence), then ``stop``
            shared["final"] = final.value
            if shared["final"] and not stop_at:
                stop_at = time.monotonic() + cfg["drain"]
            if stop_at:
                close_done(stop_at)
            await asyncio.sleep(0.1)
            if all(t.done() for t in tasks) and shared["final"]:
                break
        shared["final"] = final.value
        stop_at = stop_at or time.monotonic()  # stopped before ``final`` was known: close them all now
        deadline = time.monotonic() + cfg["drain"] + 5
        while not all(t.done() for t in tasks) and time.monotonic() < deadline:
            close_done(stop_at)
            await asyncio.sleep(0.1)
        for t in tasks:
            t.cancel()
        rows = [
            (i, s.first, s.last, s.received, s.gaps, s.disorder, s.ended, s.error, s.batches, s.decoded)
            for i, s in subs.items()
        ]
        results.put({"rows": rows, "hist": {k: v for k, v in enumerate(hist) if v}})

    uvloop.run(main())


# ------------------------------------------------------------------------------------------- writer process


class HttpConnection:
    """A minimal HTTP/1.1 keep-alive client connection for the writer: POST JSON, read a ``content-length``
    response. (httpx cost the writer process several ms of CPU per request, so with it the load generator,
    not the server, capped the rate at ~90 messages/s on a 2-core machine.)"""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
        """POST; a kept-alive connection the server closed meanwhile (its idle timeout) before answering
        anything is reopened and the request sent once more, as browsers do."""
        reused = self.writer is not None and not self.writer.is_closing()
        try:
            return await self._post(path, body, headers)
        except asyncio.IncompleteReadError as e:
            if not reused or e.partial:
                raise
            return await self._post(path, body, headers)

    async def _post(self, path: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        data = json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
                          f"content-length: {len(data)}\r\n{head}\r\n".encode() + data)  # fmt: skip
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            if "content-length" not in fields:
                raise RuntimeError(f"response without content-length: {fields}")
            payload = await self.reader.readexactly(int(fields["content-length"]))
            if fields.get("connection", "").lower() == "close":
                self.close()
        except BaseException:
            self.close()
            raise
        return status, json.loads(payload) if payload else {}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def writer_process(cfg: dict, go, results) -> None:
    """Posts ``rate`` messages/s for ``seconds`` (open loop, capped in flight); reports what was accepted."""
    import uvloop

    async def main() -> None:
        tokens, rate, n = cfg["tokens"], cfg["rate"], int(cfg["rate"] * cfg["seconds"])
        accepted: list[int] = []
        refused: dict[str, int] = {}
        errors: dict[str, int] = {}
        post_latency: list[float] = []
        late = [0.0]
        sent_count = [0]
        gate = asyncio.Semaphore(cfg["inflight"])
        host, port = cfg["base"].removeprefix("http://").rsplit(":", 1)
        pool: list[HttpConnection] = [HttpConnection(host, int(port)) for _ in range(cfg["inflight"])]
        headers = [{"authorization": f"Bearer {t}"} for t in tokens]
        while not go.is_set():  # noqa: ASYNC110 - set from another process's signal through polling
            await asyncio.sleep(0.01)
        t0 = time.monotonic() + 0.2

        async def post(k: int) -> None:
            conn = pool.pop()
            try:
                sent = time.time()
                content = f"m{sent:.6f}|w{k % len(tokens)}-{k}"
                status, body = await conn.post("/graphql", {"query": SEND, "variables": {"s": cfg["stream_id"], "c": content}},
                                               headers[k % len(tokens)])  # fmt: skip
                post_latency.append(time.time() - sent)
                if status != 200:
                    errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
                    return
                if body.get("errors"):
                    key = str(body["errors"][0].get("message"))[:80]
                    errors[key] = errors.get(key, 0) + 1
                    return
                result = body["data"]["sendChatMessage"]
                if result["__typename"] == "ChatMessage":
                    accepted.append(result["sequence"])
                else:
                    code = result.get("code") or result["__typename"]
                    refused[code] = refused.get(code, 0) + 1
            except Exception as e:
                key = type(e).__name__
                errors[key] = errors.get(key, 0) + 1
            finally:
                pool.append(conn)
                gate.release()

        tasks = set()
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        started = time.time()
        give_up = t0 + cfg["seconds"] + cfg["grace"]  # bound the run when the server cannot keep up
        for k in range(n):
            due = t0 + k / rate
            if time.monotonic() > give_up:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            late[0] = max(late[0], time.monotonic() - due)
            sent_count[0] += 1
            task = asyncio.create_task(post(k))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        send_window = time.time() - started
        await asyncio.gather(*list(tasks))
        finished = time.time() - started
        for conn in pool:
            conn.close()
        results.put({"accepted": accepted, "refused": refused, "errors": errors, "post_latency": post_latency,
                     "send_window": send_window, "finished": finished, "max_late": late[0], "planned": n, "sent": sent_count[0],
                     "started": started})  # fmt: skip

    uvloop.run(main())


# ------------------------------------------------------------------------------------------------------- main


def create_token(env: dict, workdir: Path, user: str) -> str:
    run = subprocess.run([*livecast_command(), "token", "create", "--user", user], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    if run.returncode != 0:
        raise BenchError(f"livecast token create failed: {run.stderr.strip()}")
    return run.stdout.strip().splitlines()[-1]


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@contextlib.contextmanager
def postgres_database(server_url: str | None):
    """A fresh database on ``server_url``'s server (created, then dropped), as the test suite does."""
    if not server_url:
        yield None
        return
    name = f"livecast_chat_bench_{os.getpid()}_{int(time.time())}"
    asyncio.run(_pg_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server_url.rpartition('/')[0]}/{name}"
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(_pg_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run(args: argparse.Namespace, workdir: Path) -> int:
    with postgres_database(args.postgres) as pg_url:
        return _run(args, workdir, pg_url)


def _run(args: argparse.Namespace, workdir: Path, pg_url: str | None) -> int:
    raise_nofile()
    port = free_port()
    database_url = pg_url or f"sqlite://{workdir / 'livecast.db'}"
    bus_url = "memory://" if args.bus == "memory" else args.redis_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECAST_")} | {
        "LIVECAST_DATABASE_URL": database_url, "LIVECAST_DATA_DIR": str(workdir / "data"),
        "LIVECAST_HTTP_PORT": str(port), "LIVECAST_RTMP_PORT": str(free_port()), "LIVECAST_HOST": "127.0.0.1",
        "LIVECAST_EMBEDDED_INGEST": "false", "LIVECAST_LOG_LEVEL": "WARNING", "LIVECAST_BUS_URL": bus_url,
        "LIVECAST_CHAT_RATE_LIMIT": "1000000/1 second", "LIVECAST_RATE_LIMIT_URL": "memory://",
        "LIVECAST_WS_INIT_TIMEOUT_SECONDS": "60",
    }  # fmt: skip
    base, log_path = f"http://127.0.0.1:{port}", workdir / "server.log"
    server: subprocess.Popen[bytes] | None = None
    procs: list[multiprocessing.Process] = []
    ctx = multiprocessing.get_context("spawn")
    try:
        print(f"workdir {workdir}; bus {bus_url}; database {database_url.split('@')[-1]}", flush=True)
        with open(log_path, "wb") as log:
            server = subprocess.Popen([*livecast_command(), "serve"], cwd=workdir, env=env, stdout=log,
                                      stderr=subprocess.STDOUT, preexec_fn=raise_nofile)  # fmt: skip
        client = httpx.Client(timeout=30)
        wait_healthy(client, base, server, log_path, timeout=60)
        owner = create_token(env, workdir, "bench-owner")
        tokens = [create_token(env, workdir, f"bench-writer-{w}") for w in range(args.writers)]
        created = graphql(client, f"{base}/graphql", owner, CREATE, {})["createStream"]
        if created["__typename"] != "Stream":
            raise BenchError(f"createStream failed: {created}")
        stream_id = created["id"]

        # Subscribers.
        n, p = args.subscribers, max(1, min(args.subscriber_processes, args.subscribers))
        ready = ctx.Array("b", n, lock=False)
        final = ctx.Value("q", 0, lock=False)
        stop = ctx.Event()
        sub_results: multiprocessing.Queue = ctx.Queue()
        cfg = {"ws_url": f"ws://127.0.0.1:{port}/graphql", "stream_id": stream_id, "drain": args.drain,
               "connect_concurrency": 50, "connect_pause": 0.05, "minimal": args.minimal_fields}  # fmt: skip
        for k in range(p):
            proc = ctx.Process(
                target=subscriber_process,
                args=(cfg, list(range(k, n, p)), ready, final, stop, sub_results),
                daemon=True,
            )
            proc.start()
            procs.append(proc)

        # Writer process (waits for ``go``).
        go = ctx.Event()
        writer_results: multiprocessing.Queue = ctx.Queue()
        wcfg = {"base": base, "stream_id": stream_id, "tokens": tokens, "rate": args.rate, "seconds": args.seconds,
                "inflight": args.inflight, "grace": args.grace}  # fmt: skip
        writer = ctx.Process(target=writer_process, args=(wcfg, go, writer_results), daemon=True)
        writer.start()
        procs.append(writer)

        # Readiness: probes until every subscriber has received one.
        t_connect = time.monotonic()
        deadline = t_connect + args.ready_timeout
        probes = 0
        while True:
            count = sum(ready)
            if count == n:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"only {count}/{n} subscribers received a probe within {args.ready_timeout:g} s")
            if server.poll() is not None:
                raise BenchError(f"livecast serve exited ({server.returncode}):\n{tail(log_path)}")
            probes += 1
            result = graphql(client, f"{base}/graphql", tokens[0], SEND, {"s": stream_id, "c": f"p{probes}"})[
                "sendChatMessage"
            ]
            if result["__typename"] != "ChatMessage":
                raise BenchError(f"probe refused: {result}")
            time.sleep(1.0)
        print(f"API pid {server.pid}: {n} subscribers ready in {time.monotonic() - t_connect:.1f} s ({probes} probes, {p} load processes); "
              f"sending {args.rate:g} msgs/s for {args.seconds:g} s from {args.writers} users ...", flush=True)  # fmt: skip
        rss_before = rss_mb(server.pid)[0]

        # Send.
        load_pids = [proc.pid for proc in procs]
        load0 = [proc_cpu_seconds(pid) or 0.0 for pid in load_pids]
        cpu0, m0, w0 = proc_cpu_seconds(server.pid) or 0.0, machine_jiffies(), time.monotonic()
        go.set()
        rss_peak = 0.0
        writer_report = None
        while writer_report is None:
            with contextlib.suppress(Exception):
                writer_report = writer_results.get(timeout=0.5)
            rss_peak = max(rss_peak, rss_mb(server.pid)[0])
            if server.poll() is not None:
                raise BenchError(f"livecast serve exited during the run ({server.returncode}):\n{tail(log_path)}")
            if time.monotonic() - w0 > args.seconds + args.grace + 60:
                raise BenchError("the writer did not finish")
        cpu1, m1, w1 = proc_cpu_seconds(server.pid) or 0.0, machine_jiffies(), time.monotonic()
        load1 = [proc_cpu_seconds(pid) or a for pid, a in zip(load_pids, load0, strict=True)]
        accepted = writer_report["accepted"]
        last_seq = max(accepted, default=0)
        final.value = max(last_seq, probes)

        # Drain.
        t_drain = time.monotonic()
        rows, hist = [], [0] * (HIST_MS + 1)
        for _ in range(p):
            try:
                report = sub_results.get(timeout=args.drain + 30)
            except Exception as e:
                raise BenchError("a subscriber process did not report") from e
            rows += report["rows"]
            for k, v in report["hist"].items():
                hist[k] += v
        drained_in = time.monotonic() - t_drain
        stop.set()
        cpu2 = proc_cpu_seconds(server.pid) or 0.0
        rss_now, rss_hwm = rss_mb(server.pid)
        client.close()
        stop_process(server, signal.SIGINT, timeout=20)
        server_rc = server.returncode
        problems = [line for line in log_path.read_text(errors="replace").splitlines() if SERVER_PROBLEM.search(line)]

        # Results.
        send_window = w1 - w0
        n_acc = len(accepted)
        refused = sum(writer_report["refused"].values())
        errors = sum(writer_report["errors"].values())
        accepted_rate = n_acc / writer_report["send_window"] if writer_report["send_window"] else 0
        expected_total = lost_total = received_total = 0
        gap_subs = disorder_subs = ended_subs = error_subs = lossy_subs = 0
        for _i, first, last, received, gaps, disorder, ended, error, _batches, _decoded in rows:
            expected = final.value - first + 1 if first is not None else final.value
            expected_total += expected
            received_total += received
            lost = expected - received
            lost_total += max(lost, 0)
            lossy_subs += lost > 0
            gap_subs += gaps > 0 or last < final.value
            disorder_subs += disorder > 0
            ended_subs += ended is not None
            error_subs += error is not None
        batches = sum(r[8] for r in rows)
        decoded = sum(r[9] for r in rows)
        latency_n = sum(hist)
        p50, p99 = hist_percentile(hist, 50), hist_percentile(hist, 99)
        delivered_rate = latency_n / (send_window + drained_in)
        posts = writer_report["post_latency"]
        cpu_pct = 100 * (cpu1 - cpu0) / send_window
        busy = 100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
        ok_rate = accepted_rate >= args.rate * 0.98 and n_acc == writer_report["planned"]
        ok_p99 = p99 <= TARGET_P99
        ok_loss = lost_total == 0 and gap_subs == 0 and disorder_subs == 0 and errors == 0 and refused == 0
        verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731

        print()
        print(f"subscribers={n} rate={args.rate:g}/s seconds={args.seconds:g} writers={args.writers} bus={args.bus} "
              f"db={'postgres' if pg_url else 'sqlite'} cores={os.cpu_count()} "
              f"fields={'minimal' if args.minimal_fields else 'sequence content author{name}'}")  # fmt: skip
        print(f"accepted: {n_acc} of {writer_report['planned']} planned ({writer_report['sent']} sent) = {accepted_rate:.1f} msgs/s over "
              f"{writer_report['send_window']:.1f} s (requested {args.rate:g}: {verdict(ok_rate)}); "
              f"refused {refused} {writer_report['refused'] or ''}; errors {errors} {writer_report['errors'] or ''}; "
              f"writer max lateness {writer_report['max_late'] * 1000:.0f} ms")  # fmt: skip
        if posts:
            print(f"  POST latency: p50 {percentile(posts, 50) * 1000:.0f} ms, p99 {percentile(posts, 99) * 1000:.0f} ms, "
                  f"max {max(posts) * 1000:.0f} ms")  # fmt: skip
        print(f"delivered: {latency_n} messages to {n} subscribers = {delivered_rate:.0f} msgs/s "
              f"(expected {n * n_acc}; {batches} frames, {latency_n / max(1, batches):.1f} msgs/frame, {decoded} decoded as JSON, "
              f"the rest read by the fast path; drain {drained_in:.1f} s)")  # fmt: skip
        print(f"end-to-end latency: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
              f"max bucket {max((k for k, v in enumerate(hist) if v), default=0)} ms "
              f"(target p99 <= {TARGET_P99 * 1000:.0f} ms: {verdict(ok_p99)})")  # fmt: skip
        print(f"losses: {lost_total} of {expected_total} expected deliveries; subscribers with loss {lossy_subs}, "
              f"with a gap or short {gap_subs}, out of order/duplicate {disorder_subs}, ended by server {ended_subs}, "
              f"errors {error_subs} (target 0: {verdict(ok_loss)})")  # fmt: skip
        print(f"API process: CPU {cpu_pct:.0f}% of one core over the send window ({cpu2 - cpu0:.1f} s CPU incl. drain); "
              f"RSS {rss_before:.0f} MB before, peak {max(rss_peak, rss_now):.0f} MB (HWM {rss_hwm:.0f} MB); "
              f"machine busy {busy:.0f}% of {os.cpu_count()} cores")  # fmt: skip
        # CPU seconds do not depend on how much CPU the other processes left the server: comparable across runs.
        print(f"API CPU per accepted message: {1000 * (cpu2 - cpu0) / max(1, n_acc):.2f} ms (incl. its fan-out, "
              f"{batches / max(1, n_acc):.1f} frames per message)")  # fmt: skip
        print(
            f"load processes (not the server): writer CPU {100 * (load1[-1] - load0[-1]) / send_window:.0f}%, subscriber "
            f"processes {100 * sum(b - a for a, b in zip(load0[:-1], load1[:-1], strict=True)) / send_window:.0f}% of one core"
        )
        size = (
            ""
            if args.rate >= TARGET_RATE and n >= 1000
            else " (smaller than the target's 500/s x 1000: indicative only)"
        )
        print(
            f"TARGET {TARGET_RATE:g} msgs/s with p99 <= {TARGET_P99:g} s and 0 loss; this run {n} subscribers at "
            f"{args.rate:g}/s: {verdict(ok_rate and ok_p99 and ok_loss)}{size}"
        )
        for row in rows:
            if row[6] or row[7]:
                print(f"  subscriber {row[0]} ended: {row[6] or row[7]}", file=sys.stderr)
                break
        bad: list[str] = []
        if server_rc not in (0, None):
            bad.append(f"livecast serve exited with {server_rc} after SIGINT")
        if problems:
            bad.append("livecast serve logged errors:\n    " + "\n    ".join(problems[:20]))
        if error_subs:
            bad.append(f"{error_subs} subscriber connection(s) failed")
        if busy > 90:
            print(
                "warning: the machine was CPU-saturated (>90%); the load processes compete with the server",
                file=sys.stderr,
            )
        for message in bad:
            print(f"error: {message}", file=sys.stderr)
        return 1 if bad else 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        stop_process(server, signal.SIGINT, timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="websocket subscribers (default 1000)")
    parser.add_argument("--rate", type=float, default=500.0, help="messages/s sent into the stream (default 500)")
    parser.add_argument("--seconds", type=float, default=20.0, help="send duration (default 20)")
    parser.add_argument("--bus", choices=("memory", "redis"), default="memory")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL server URL (e.g. postgres://postgres@127.0.0.1:5432/postgres): "
        "the run uses a fresh database on it, dropped afterwards (default: an SQLite file in the temp dir)",
    )
    parser.add_argument("--writers", type=int, default=4, help="users whose tokens the writer rotates (default 4)")
    parser.add_argument("--inflight", type=int, default=64, help="max concurrent POSTs (default 64)")
    parser.add_argument(
        "--subscriber-processes", type=int, default=2, help="load processes for subscribers (default 2)"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=20.0,
        help="the writer stops sending this long after --seconds if behind (default 20)",
    )
    parser.add_argument(
        "--drain", type=float, default=30.0, help="max seconds to wait for delivery after sending (default 30)"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=120.0, help="max seconds for all subscribers to be ready"
    )
    parser.add_argument("--minimal-fields", action="store_true", help="subscribe to `sequence content` only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server log, DB)")
    args = parser.parse_args(argv)
    if args.subscribers < 1 or args.rate <= 0 or args.seconds <= 0 or args.writers < 1:
        parser.error("--subscribers, --rate, --seconds and --writers must be positive")
    return run_in_tempdir(run, args, prefix="livecast-chat-bench-")


if __name__ == "__main__":
    sys.exit(main())
