"""Viewer benchmark: N simulated players beaconing every 5 s against one ``livecast serve`` process.

    .venv/bin/python benchmarks/viewers.py [--viewers 10000] [--seconds 75] [--connections 256] [--viewers-url redis://...] [--keep]

What it does:

1. Starts ``livecast serve`` in a fresh temporary directory (own SQLite DB, free port, no RTMP ingest, embedded
   jobs: the viewer count runs every 5 s inside it; the beacon rate limit per address raised, since every
   simulated player shares 127.0.0.1), creates a token and one stream, marks the stream live through the domain
   (as the ingest would), so no encoder competes for the CPU, and opens one playback session per viewer with
   ``stream { playback { session { id token } } }`` (:data:`SESSIONS_PER_QUERY` aliases per query).
2. A separate load process (raw HTTP/1.1 on asyncio + uvloop, keep-alive connections shared by the viewers,
   as a load balancer's upstream pool would be) starts the viewers evenly over the first interval; each sends
   ``playing`` every interval. From ``--leave-after`` s, every 10th viewer sends ``ended`` and stops; from
   ``--silent-after`` s another 10th stops without a word (a closed laptop).
3. Meanwhile the benchmark polls ``stream { viewerCount }`` every 0.2 s and measures the API process's CPU
   (``utime + stime`` of its pid from ``/proc``) over the steady window (all viewers started, nobody left; 30 s
   by default, so it holds one session flush: ``LIVECAST_VIEWER_FLUSH_SECONDS``, 30 s).

Figures: beacons/s handled (204 responses) vs. N / interval; errors; beacon latency; API CPU; CCV lag:
join = first ``playing`` acknowledged → the count includes it; leave = ``ended`` acknowledged → the count
excludes it (target <= 10 s each, per viewer by rank); silent = last beacon → excluded (the 15 s window plus
up to one count period: about 15-20 s by definition, shown for information). Sessions in the database
(``streamAnalytics.totalViews``) are checked at the end.

Exit status: 0 when the benchmark ran (even if a target is missed: it prints FAIL); 1 on errors. Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (
    SERVER_PROBLEM,
    BenchError,
    free_port,
    graphql,
    livecast_command,
    percentile,
    proc_cpu_seconds,
    run_in_tempdir,
    stop_process,
    tail,
    wait_healthy,
)  # fmt: skip

TARGET_LAG = 10.0
CREATE = (
    'mutation { createStream(input: {title: "bench"}) { __typename ... on Stream { id } ... on Error { message } } }'
)
COUNT = "query($id: ID!) { stream(id: $id) { viewerCount } }"
SESSIONS_PER_QUERY = 20
"""Playback sessions opened per GraphQL query (aliases of ``stream { playback { session } }``)."""
ANALYTICS = "query($id: ID!) { streamAnalytics(streamId: $id) { totalViews peakConcurrentViewers } }"


# ------------------------------------------------------------------------------------------ the load process


class Load:
    """Viewers ``0..n-1`` (``v<i>``, one session each: ``cfg["sessions"][i]`` = ``[id, token]``); group ``i % 10``:
    0 ends, 1 goes silent, others play on."""

    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.queue: asyncio.Queue[tuple[float, int, bytes]] = asyncio.Queue()
        self.first_ack: dict[int, float] = {}
        self.last_ack: dict[int, float] = {}
        self.ended_ack: dict[int, float] = {}
        self.acks: list[float] = []
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.max_delay = 0.0
        self.pending = 0

    def body(self, i: int, state: str) -> bytes:
        session, token = self.cfg["sessions"][i]
        return (f'{{"streamId":"{self.cfg["stream_id"]}","viewerId":"v{i}","sessionId":"{session}",'
                f'"sessionToken":"{token}","state":"{state}","bufferingMs":0,"bitrate":2500000,"errors":0}}').encode()  # fmt: skip

    async def schedule(self) -> None:
        cfg, t0, n = self.cfg, self.cfg["t0"], self.cfg["viewers"]
        leave, silent, end = t0 + cfg["leave_after"], t0 + cfg["silent_after"], t0 + cfg["seconds"]
        due: deque[tuple[float, int]] = deque((t0 + cfg["interval"] * i / n, i) for i in range(n))
        while due:
            now = time.time()
            while due and due[0][0] <= now:
                at, i = due.popleft()
                if i % 10 == 0 and at >= leave:
                    self.pending += 1
                    self.queue.put_nowait((at, i, self.body(i, "ended")))
                    continue
                if i % 10 == 1 and at >= silent:
                    continue
                self.pending += 1
                self.queue.put_nowait((at, i, self.body(i, "playing")))
                if at + cfg["interval"] < end:
                    due.append((at + cfg["interval"], i))
            await asyncio.sleep(0.005)

    async def connection(self) -> None:
        host, port = "127.0.0.1", self.cfg["port"]
        head = f"POST /v1/playback/beacon HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/plain\r\n".encode()
        reader = writer = None
        while True:
            at, i, body = await self.queue.get()
            for attempt in range(2):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    sent = time.time()
                    self.max_delay = max(self.max_delay, sent - at)
                    writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                    response = await reader.readuntil(b"\r\n\r\n")
                    status = int(response[9:12])
                    length = _content_length(response)
                    if length:
                        await reader.readexactly(length)
                    break
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                    writer = None  # the server closed an idle keep-alive connection: reconnect once
                    if attempt:
                        status = 0
                        self.errors[type(e).__name__] = self.errors.get(type(e).__name__, 0) + 1
            self.pending -= 1
            done = time.time()
            if status not in (200, 204):  # 200: accepted with a renewed token (not due within a run: see run())
                if status:
                    self.errors[str(status)] = self.errors.get(str(status), 0) + 1
                continue
            self.acks.append(done)
            self.latencies.append(done - sent)
            self.first_ack.setdefault(i, done)
            self.last_ack[i] = done
            if b'"ended"' in body:
                self.ended_ack[i] = done

    async def run(self) -> dict:
        workers = [asyncio.create_task(self.connection()) for _ in range(self.cfg["connections"])]
        await asyncio.sleep(max(0.0, self.cfg["t0"] - time.time()))
        await self.schedule()
        while self.pending:  # noqa: ASYNC110 - a count, not an event
            await asyncio.sleep(0.05)
        for worker in workers:
            worker.cancel()
        return {
            "first_ack": self.first_ack, "last_ack": self.last_ack, "ended_ack": self.ended_ack, "acks": self.acks,
            "latencies": self.latencies, "errors": self.errors, "max_delay": self.max_delay,
            "cpu": time.process_time(),
        }  # fmt: skip


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"content-length:")
    return int(lower[at + 15 : lower.index(b"\r\n", at)]) if at >= 0 else 0


def load_process(cfg: dict, results: multiprocessing.Queue) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    results.put(asyncio.run(Load(cfg).run()))


# ---------------------------------------------------------------------------------------------- orchestration


async def mark_live(database_url: str, stream_id: str) -> None:
    """What the ingest does when an encoder connects and the first segment is listed."""
    from livecast.bus import create_bus
    from livecast.domain import db, encoder
    from livecast.domain.deps import Deps
    from livecast.providers.registry import ProviderRegistry
    from livecast.settings import Settings

    await db.open_db(database_url)
    bus = create_bus("memory://")
    await bus.connect()
    try:
        deps = Deps(bus=bus, providers=ProviderRegistry(Settings(database_url=database_url)))
        await encoder.encoder_connected(deps=deps, stream_id=stream_id)
        await encoder.media_ready(deps=deps, stream_id=stream_id)
    finally:
        await bus.disconnect()
        await db.close_db()


def open_sessions(client: httpx.Client, url: str, token: str, stream_id: str, n: int) -> list[list[str]]:
    """``n`` playback sessions (``[id, token]``) of the stream, as players open them."""
    sessions: list[list[str]] = []
    while len(sessions) < n:
        batch = min(SESSIONS_PER_QUERY, n - len(sessions))
        query = (
            "query($id: ID!) { "
            + " ".join(f"s{k}: stream(id: $id) {{ playback {{ session {{ id token }} }} }}" for k in range(batch))
            + " }"
        )
        data = graphql(client, url, token, query, {"id": stream_id})
        sessions += [
            [data[f"s{k}"]["playback"]["session"]["id"], data[f"s{k}"]["playback"]["session"]["token"]]
            for k in range(batch)
        ]
    return sessions


def lags(events: list[float], counts: list[tuple[float, int]], target: int, step: int) -> list[float]:
    """Per event (sorted), seconds until the polled count first reached ``target + step * rank`` (rank from 1;
    ``step`` +1 for joins, -1 for leaves). Events never reflected get ``inf``."""
    out = []
    for rank, at in enumerate(sorted(events), start=1):
        wanted = target + step * rank
        seen = next((t for t, c in counts if t >= at and (c >= wanted if step > 0 else c <= wanted)), None)
        out.append(seen - at if seen is not None else float("inf"))
    return out


def summary(values: list[float], unit: str = "s") -> str:
    if not values:
        return "n/a"
    scale = 1000 if unit == "ms" else 1
    p50, p95, top = (scale * v for v in (percentile(values, 50), percentile(values, 95), max(values)))
    return f"p50 {p50:.2f} {unit}, p95 {p95:.2f} {unit}, max {top:.2f} {unit} (n={len(values)})"


def run(args: argparse.Namespace, workdir: Path) -> int:
    port = free_port()
    database_url = f"sqlite://{workdir / 'livecast.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECAST_")} | {
        "LIVECAST_DATABASE_URL": database_url, "LIVECAST_DATA_DIR": str(workdir / "data"),
        "LIVECAST_HTTP_PORT": str(port), "LIVECAST_RTMP_PORT": str(free_port()), "LIVECAST_EMBEDDED_INGEST": "false",
        "LIVECAST_LOG_LEVEL": "WARNING", "LIVECAST_BUS_URL": "memory://", "LIVECAST_VIEWER_COUNT_SECONDS": f"{args.interval:g}",
        "LIVECAST_VIEWERS_URL": args.viewers_url, "LIVECAST_VIEWER_FLUSH_SECONDS": f"{args.flush_seconds:g}",
        "LIVECAST_BEACON_RATE_LIMIT": "10000000/minute",  # every simulated player is 127.0.0.1
        "LIVECAST_PLAYBACK_SESSION_TTL_SECONDS": str(max(600, int(4 * args.seconds))),  # no renewal during the run
    }  # fmt: skip
    base, log_path = f"http://127.0.0.1:{port}", workdir / "server.log"
    server = None
    try:
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [*livecast_command(), "serve"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        client = httpx.Client(timeout=10)
        wait_healthy(client, base, server, log_path, timeout=60)
        token_run = subprocess.run([*livecast_command(), "token", "create", "--user", "bench"], check=False, cwd=workdir, env=env,
                                   capture_output=True, text=True, timeout=60)  # fmt: skip
        if token_run.returncode != 0:
            raise BenchError(f"livecast token create failed: {token_run.stderr.strip()}")
        token = token_run.stdout.strip().splitlines()[-1]
        created = graphql(client, f"{base}/graphql", token, CREATE, {})["createStream"]
        if created["__typename"] != "Stream":
            raise BenchError(f"createStream failed: {created}")
        stream_id = created["id"]
        asyncio.run(mark_live(database_url, stream_id))

        n = args.viewers
        opened = time.monotonic()
        sessions = open_sessions(client, f"{base}/graphql", token, stream_id, n)
        print(f"{n} playback sessions opened in {time.monotonic() - opened:.1f} s", flush=True)
        t0 = time.time() + 3.0
        cfg = {"port": port, "stream_id": stream_id, "sessions": sessions, "viewers": n, "interval": args.interval, "t0": t0,
               "seconds": args.seconds, "leave_after": args.leave_after, "silent_after": args.silent_after,
               "connections": args.connections}  # fmt: skip
        ctx = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue = ctx.Queue()
        loader = ctx.Process(target=load_process, args=(cfg, results), daemon=True)
        loader.start()
        print(
            f"{n} viewers beaconing every {args.interval:g} s for {args.seconds:g} s over {args.connections} connections ...",
            flush=True,
        )

        window = (t0 + 2 * args.interval, t0 + args.leave_after)
        counts: list[tuple[float, int]] = []
        cpu: dict[str, float] = {}
        end = t0 + args.seconds + args.interval
        while time.time() < end:
            now = time.time()
            if "start" not in cpu and now >= window[0]:
                cpu["start"], cpu["t_start"] = proc_cpu_seconds(server.pid) or 0.0, now
            if "end" not in cpu and now >= window[1]:
                cpu["end"], cpu["t_end"] = proc_cpu_seconds(server.pid) or 0.0, now
            count = graphql(client, f"{base}/graphql", token, COUNT, {"id": stream_id})["stream"]["viewerCount"]
            counts.append((time.time(), count))
            if server.poll() is not None:
                raise BenchError(f"livecast serve exited during the run:\n{tail(log_path)}")
            time.sleep(0.2)
        load = results.get(timeout=60)
        loader.join(10)
        deadline = time.time() + args.flush_seconds + 2 * args.interval
        while True:  # sessions are written every --flush-seconds
            views = graphql(client, f"{base}/graphql", token, ANALYTICS, {"id": stream_id})["streamAnalytics"]
            if views["totalViews"] >= n or time.time() > deadline:
                break
            time.sleep(1)
        client.close()
        stop_process(server, signal.SIGINT, timeout=20)
        problems = [line for line in log_path.read_text(errors="replace").splitlines() if SERVER_PROBLEM.search(line)]

        expected_rate = n / args.interval
        steady = [a for a in load["acks"] if window[0] <= a < window[1]]
        rate = len(steady) / (window[1] - window[0])
        server_cpu = 100 * (cpu["end"] - cpu["start"]) / (cpu["t_end"] - cpu["t_start"])
        joined = lags(list(load["first_ack"].values()), [c for c in counts if c[0] < t0 + args.leave_after], 0, 1)
        ended = list(load["ended_ack"].values())
        left = lags(ended, counts, n, -1)
        silent = [load["last_ack"][i] for i in range(1, n, 10)]
        gone = lags(silent, counts, n - len(ended), -1)
        errors = sum(load["errors"].values())
        final, remaining = counts[-1][1], n - len(ended) - len(silent)

        print(f"\nviewers={n} interval={args.interval:g} s connections={args.connections} store={args.viewers_url} "
              f"cores={multiprocessing.cpu_count()}")  # fmt: skip
        print(f"beacons/s handled (steady window {window[1] - window[0]:.0f} s): {rate:.0f}  (target {expected_rate:.0f}: "
              f"{'PASS' if rate >= 0.95 * expected_rate else 'FAIL'}); errors {errors} {load['errors'] or ''}")  # fmt: skip
        print(
            f"beacon latency: {summary(load['latencies'], 'ms')}; load process send delay max {load['max_delay']:.2f} s"
        )
        print(f"API process CPU (steady window): {server_cpu:.0f}% of one core (must stay < 100%: "
              f"{'PASS' if server_cpu < 100 else 'FAIL'}); load process CPU {load['cpu']:.1f} s total")  # fmt: skip
        print(f"CCV lag, first beacon -> counted: {summary(joined)}  (target <= {TARGET_LAG:g} s: "
              f"{'PASS' if joined and max(joined) <= TARGET_LAG else 'FAIL'})")  # fmt: skip
        print(f"CCV lag, 'ended' beacon -> uncounted: {summary(left)}  (target <= {TARGET_LAG:g} s: "
              f"{'PASS' if left and max(left) <= TARGET_LAG else 'FAIL'})")  # fmt: skip
        print(f"CCV lag, last beacon of a silent player -> uncounted: {summary(gone)}  (15 s window + count period)")
        print(f"peak CCV {max(c for _, c in counts)} (viewers {n}); final CCV {final} (expected {remaining}: "
              f"{'PASS' if final == remaining else 'FAIL'}); sessions in the database {views['totalViews']} (expected {n})")  # fmt: skip
        failures = ["livecast serve logged errors:\n    " + "\n    ".join(problems[:20])] if problems else []
        if errors > 0.01 * len(load["acks"]):
            failures.append(f"{errors} beacon(s) failed")
        for failure in failures:
            print(f"error: {failure}", file=sys.stderr)
        return 1 if failures else 0
    finally:
        stop_process(server, signal.SIGINT, timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--viewers", type=int, default=10_000, help="simulated viewers (default 10000)")
    parser.add_argument("--seconds", type=float, default=75.0, help="load duration (default 75)")
    parser.add_argument("--interval", type=float, default=5.0, help="beacon interval and count period, s (default 5)")
    parser.add_argument("--connections", type=int, default=256, help="keep-alive connections of the load (default 256)")
    parser.add_argument(
        "--leave-after", type=float, default=40.0, help="every 10th viewer sends 'ended' (default 40 s)"
    )
    parser.add_argument("--silent-after", type=float, default=45.0, help="every 10th+1 goes silent (default 45 s)")
    parser.add_argument("--flush-seconds", type=float, default=30.0, help="LIVECAST_VIEWER_FLUSH_SECONDS (default 30)")
    parser.add_argument(
        "--viewers-url", default="memory://", help="LIVECAST_VIEWERS_URL, e.g. redis://127.0.0.1:6379/0"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, DB)")
    args = parser.parse_args(argv)
    if not 3 * args.interval <= args.leave_after < args.silent_after < args.seconds - 20:
        parser.error("need 3 x interval <= --leave-after < --silent-after < --seconds - 20")
    return run_in_tempdir(run, args, prefix="livecast-viewers-")


if __name__ == "__main__":
    sys.exit(main())
