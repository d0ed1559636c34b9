"""Fan-out benchmark: N websocket subscribers of one stream's status on one ``livecast serve`` (Redis bus).

    .venv/bin/python benchmarks/fanout.py [--subscribers 1000,5000,10000] [--events 10] [--interval 2]
                                          [--load-procs 2] [--redis-url redis://127.0.0.1:6379/15] [--keep]
                                          [--no-compression] [--server-gc T0,T1,T2] [--profile DIR]

What it does:

1. Starts one ``livecast serve`` in a fresh temporary directory (own SQLite, ``LIVECAST_BUS_URL`` = Redis,
   ``LIVECAST_EMBEDDED_INGEST=false``, free port, RLIMIT_NOFILE raised to its hard limit), creates a token
   (``livecast token create``) and one stream over GraphQL.
2. For each N (in increasing order): starts ``--load-procs`` separate load processes that open N websockets
   in total, each speaking ``graphql-transport-ws`` (connection_init with the token, then one
   ``streamStatusChanged(streamId)`` subscription). Readiness: the benchmark publishes probe events
   (status ``PREPARING``) until every subscriber has received one, so every subscription is registered, then
   one barrier event (``ENDED``) and waits until every subscriber has it: nothing is left in flight.
3. Memory: RSS of the API process with the N idle subscribers minus its RSS before the first step (after a
   small warm-up), divided by N.
4. Latency: publishes ``--events`` encoded ``StreamStatusChanged`` events (alternately ``LIVE`` and
   ``RECONNECTING``) straight to the stream's Redis channel, ``--interval`` seconds apart, so they arrive like
   events from another process (an ingest or a worker). The send time of event k is taken just before its
   PUBLISH; a subscriber's k-th non-probe message is event k (lossless, ordered delivery; its status is
   checked), received at the time the load process read it (same clock: one machine). Deliveries missing
   after ``--drain`` seconds count as losses.

Each step also prints the API process's CPU per delivery, the load processes' CPU and how busy the machine was
(the load shares its cores), and when the last delivery of each event arrived. For diagnosis: ``--no-compression``
(clients do not offer permessage-deflate), ``--server-gc T0,T1,T2`` (the API process with other GC thresholds),
``--profile DIR`` (py-spy stacks of the API process during the events; py-spy on PATH).

Targets at 10,000 subscribers: p99 delivery latency <= 1 s, <= 30 KB per idle subscriber, no losses. Every
step prints its figures next to the targets with PASS/FAIL. Exit status: 0 when the benchmark ran (even with
a missed target); 1 on errors (server did not start, subscribers could not connect, wrong payloads, the
server logged errors). Linux only (reads ``/proc``); loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

TARGET_N = 10_000
TARGET_P99 = 1.0  # seconds, at TARGET_N subscribers
TARGET_KB = 30.0  # KB (1000 bytes) of API process RSS per idle subscriber
PROBE, BARRIER, MEASURED = "PREPARING", "ENDED", ("LIVE", "RECONNECTING")
SUBSCRIPTION = "subscription($id: ID!) { streamStatusChanged(streamId: $id) { id status startedAt endedAt updatedAt } }"
CREATE_STREAM = """mutation($input: CreateStreamInput!) { createStream(input: $input) {
  __typename ... on Stream { id owner { id } } ... on Error { code message } } }"""
SERVER_PROBLEM = re.compile(r"Traceback|\b(ERROR|CRITICAL)\b")


class BenchError(Exception):
    """The benchmark could not run (not a missed target)."""


# ------------------------------------------------------------------------------------------- load processes


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Subscriber:
    opened: asyncio.Future[bool]
    probes: int = 0
    barrier: bool = False
    received: list[tuple[float, str]] = field(default_factory=list)
    error: str | None = None


async def subscriber(sub: Subscriber, url: str, token: str, stream_id: str, gate: asyncio.Semaphore,
                     local_ip: str, compression: str | None) -> None:  # fmt: skip
    import websockets

    try:
        async with gate:
            ws = await websockets.connect(
                url, subprotocols=["graphql-transport-ws"], compression=compression,  # type: ignore[list-item]
                open_timeout=60, ping_interval=None, close_timeout=1, max_queue=None, local_addr=(local_ip, 0),
            )  # fmt: skip
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            subscribe = {"query": SUBSCRIPTION, "variables": {"id": stream_id}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        sub.opened.set_result(True)
        async with ws:
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    if message["payload"].get("errors"):
                        sub.error = sub.error or f"next with errors: {json.dumps(message['payload']['errors'])[:200]}"
                    data = (message["payload"].get("data") or {}).get("streamStatusChanged") or {}
                    status = data.get("status", "?")
                    if status == PROBE:
                        sub.probes += 1
                    elif status == BARRIER:
                        sub.barrier = True
                    else:
                        sub.received.append((now, status))
                elif kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind != "pong":
                    sub.error = f"{kind}: {json.dumps(message.get('payload'))[:200]}"
                    return
    except asyncio.CancelledError:
        raise
    except Exception as e:
        sub.error = f"{type(e).__name__}: {e}"[:200]
    finally:
        if not sub.opened.done():
            sub.opened.set_result(False)


async def load_main(pipe: Connection, url: str, token: str, stream_id: str, count: int, local_ip: str,
                    concurrency: int, compression: str | None) -> None:  # fmt: skip
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    subs = [Subscriber(opened=loop.create_future()) for _ in range(count)]
    tasks = [asyncio.create_task(subscriber(s, url, token, stream_id, gate, local_ip, compression)) for s in subs]
    await asyncio.gather(*(s.opened for s in subs))
    errors = [s.error for s in subs if s.error]
    pipe.send(("opened", sum(1 for s in subs if s.opened.result()), errors[:3]))
    while True:
        command = await asyncio.to_thread(pipe.recv)
        if command == "probed":
            pipe.send(sum(1 for s in subs if s.probes > 0 or s.barrier or s.received))
        elif command == "barrier":
            pipe.send(sum(1 for s in subs if s.barrier))
        elif command == "count":
            pipe.send(sum(len(s.received) for s in subs))
        elif command == "results":
            pipe.send(([s.received for s in subs], [s.error for s in subs if s.error]))
        elif command == "close":
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            pipe.send("closed")
            return


def load_process(pipe: Connection, *args: object) -> None:
    raise_nofile()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(load_main(pipe, *args))  # type: ignore[arg-type]


class LoadGroup:
    """``procs`` load processes sharing ``n`` subscribers; each binds its own loopback source address."""

    def __init__(self, args: argparse.Namespace, url: str, token: str, stream_id: str, n: int) -> None:
        ctx = mp.get_context("spawn")
        procs = max(1, min(args.load_procs, n))
        self.pipes: list[Connection] = []
        self.processes: list[mp.process.BaseProcess] = []
        for i in range(procs):
            share = n // procs + (1 if i < n % procs else 0)
            parent, child = ctx.Pipe()
            process = ctx.Process(
                target=load_process, daemon=True,
                args=(child, url, token, stream_id, share, f"127.0.0.{10 + i}", args.connect_concurrency,
                      None if args.no_compression else "deflate"),
            )  # fmt: skip
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def ask(self, command: str, timeout: float) -> list[object]:
        replies = []
        for pipe in self.pipes:
            if command:
                pipe.send(command)
            try:
                if not pipe.poll(timeout):
                    raise BenchError(f"a load process did not answer {command or 'opened'!r} within {timeout:g} s")
                replies.append(pipe.recv())
            except (EOFError, OSError) as e:
                raise BenchError(f"a load process exited ({type(e).__name__}); see its traceback above") from e
        return replies

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("close", 30)
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


# ---------------------------------------------------------------------------------------------- coordinator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values[:8]) - idle, sum(values[:8])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(FileNotFoundError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Bench:
    args: argparse.Namespace
    server: subprocess.Popen[bytes]
    redis: object
    ws_url: str
    token: str
    stream_id: str
    owner_id: str
    log: Path

    def publish(self, status: str, reason: str) -> float:
        from livecast.domain.events import STATUS, StreamStatusChanged, encode_event, stream_channel

        now = datetime.now(UTC)
        event = StreamStatusChanged(stream_id=self.stream_id, owner_id=self.owner_id, status=status,
                                    previous="SCHEDULED", reason=reason, at=now.isoformat())  # fmt: skip
        payload = encode_event(event)
        sent = time.time()
        self.redis.publish(stream_channel(self.stream_id, STATUS), payload)  # type: ignore[attr-defined]
        return sent

    def profile(self, n: int) -> subprocess.Popen[bytes] | None:
        """py-spy (``--profile DIR``) on the API process while the events of this step are delivered."""
        if self.args.profile is None:
            return None
        spy = shutil.which("py-spy")
        if spy is None:
            raise BenchError("--profile needs py-spy on PATH (pip install py-spy)")
        out = Path(self.args.profile) / f"fanout-{n}.txt"
        return subprocess.Popen([spy, "record", "--format", "raw", "-r", "250", "-o", str(out), "-p", str(self.server.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def alive(self) -> None:
        if self.server.poll() is not None:
            raise BenchError(f"livecast serve exited ({self.server.returncode}):\n{tail(self.log)}")

    def open(self, n: int) -> tuple[LoadGroup, float]:
        started = time.monotonic()
        group = LoadGroup(self.args, self.ws_url, self.token, self.stream_id, n)
        try:
            opened = group.ask("", self.args.connect_timeout)
            ok = sum(r[1] for r in opened)  # type: ignore[index]
            if ok < n:
                errors = [e for r in opened for e in r[2]]  # type: ignore[index]
                raise BenchError(f"only {ok} of {n} subscribers connected; e.g. {errors[:3]}")
            deadline = time.monotonic() + self.args.ready_timeout
            while sum(group.ask("probed", 30)) < n:  # type: ignore[arg-type]
                self.alive()
                if time.monotonic() > deadline:
                    raise BenchError(f"subscriptions not all registered after {self.args.ready_timeout:g} s")
                self.publish(PROBE, "fanout-bench probe")
                time.sleep(0.5)
            # Nothing may still be in flight when the measurement starts: a last event, seen by all.
            self.publish(BARRIER, "fanout-bench barrier")
            while sum(group.ask("barrier", 30)) < n:  # type: ignore[arg-type]
                self.alive()
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"the barrier event did not reach all subscribers in {self.args.ready_timeout:g} s"
                    )
                time.sleep(0.2)
            time.sleep(0.5)
        except BaseException:
            group.close()
            raise
        return group, time.monotonic() - started

    def step(self, n: int, base_rss: int) -> dict[str, float]:
        group, open_seconds = self.open(n)
        try:
            idle_rss = rss_bytes(self.server.pid)
            profiler = self.profile(n)
            cpu_before = cpu_seconds(self.server.pid)
            load_before = sum(cpu_seconds(p.pid) for p in group.processes if p.pid)  # type: ignore[misc]
            machine_before = machine_jiffies()
            sent: list[float] = []
            for k in range(self.args.events):
                if k:
                    time.sleep(self.args.interval)
                sent.append(self.publish(MEASURED[k % 2], f"fanout-bench {k}"))
            expected = n * self.args.events
            deadline = time.monotonic() + self.args.drain
            while sum(group.ask("count", 30)) < expected and time.monotonic() < deadline:  # type: ignore[arg-type]
                time.sleep(0.2)
            cpu = cpu_seconds(self.server.pid) - cpu_before
            load_cpu = sum(cpu_seconds(p.pid) for p in group.processes if p.pid) - load_before  # type: ignore[misc]
            busy, total = (a - b for a, b in zip(machine_jiffies(), machine_before, strict=True))
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(60)
            busy_rss = rss_bytes(self.server.pid)
            latencies: list[float] = []
            last = [0.0] * len(sent)  # per event: when its last delivery arrived
            wrong, errors, example = 0, [], ""
            for received, errs in group.ask("results", 120):  # type: ignore[misc]
                errors += errs
                for sub in received:
                    for k, (at, status) in enumerate(sub[: len(sent)]):
                        if status != MEASURED[k % 2]:
                            wrong += 1
                            example = example or f"{[s for _, s in sub]} ({len(sub)} received)"
                        latencies.append(at - sent[k])
                        last[k] = max(last[k], at - sent[k])
        finally:
            group.close()
        self.alive()
        if wrong:
            raise BenchError(
                f"{wrong} deliveries carried the wrong status (payload or order broken), e.g. {example}; "
                f"errors: {errors[:3]}"
            )
        delivered = len(latencies)
        kb = (idle_rss - base_rss) / n / 1000
        p50 = percentile(latencies, 50) if latencies else float("nan")
        p99 = percentile(latencies, 99) if latencies else float("nan")
        at_target = n >= TARGET_N
        print(
            f"N={n:>6}: p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  max {max(latencies, default=0) * 1000:7.1f} ms "
            f"(target p99 <= {TARGET_P99 * 1000:.0f} ms{' at 10,000' if at_target else ''}: {verdict(p99 <= TARGET_P99)})\n"
            f"          delivered {delivered}/{expected}, lost {expected - delivered} "
            f"(target 0: {verdict(delivered == expected)}){'; errors: ' + '; '.join(errors[:3]) if errors else ''}\n"
            f"          memory {kb:6.1f} KB per idle subscriber (RSS {base_rss / 1e6:.1f} -> {idle_rss / 1e6:.1f} MB; "
            f"after events {busy_rss / 1e6:.1f} MB) (target <= {TARGET_KB:g} KB: {verdict(kb <= TARGET_KB)})\n"
            f"          server CPU {cpu:.2f} s for {self.args.events} events = {cpu / self.args.events / n * 1e6:.0f} us "
            f"per delivery; load processes {load_cpu:.2f} s; machine {100 * busy / max(total, 1):.0f}% busy "
            f"({os.cpu_count()} cores)\n"
            f"          {n} subscribers opened and registered in {open_seconds:.1f} s\n"
            f"          last delivery of each event (ms): {' '.join(f'{t * 1000:.0f}' for t in last)}",
            flush=True,
        )  # fmt: skip
        return {"n": n, "p50": p50, "p99": p99, "lost": expected - delivered, "kb": kb}


def start(args: argparse.Namespace, workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECAST_")}
    env.update({
        "LIVECAST_DATABASE_URL": f"sqlite://{workdir / 'livecast.db'}", "LIVECAST_DATA_DIR": str(workdir / "data"),
        "LIVECAST_MEDIA_DIR": str(workdir / "media"), "LIVECAST_HOST": "127.0.0.1", "LIVECAST_HTTP_PORT": str(port),
        "LIVECAST_RTMP_PORT": str(free_port()), "LIVECAST_LOG_LEVEL": "WARNING", "LIVECAST_BUS_URL": args.redis_url,
        "LIVECAST_EMBEDDED_INGEST": "false",
    })  # fmt: skip
    script = Path(sys.executable).with_name("livecast")
    command = [str(script), "serve"] if script.exists() else [sys.executable, "-m", "livecast.cli", "serve"]
    if args.server_gc:  # to evaluate a setting: the same `livecast serve`, with other GC thresholds
        launch = f"import gc, sys; gc.set_threshold({args.server_gc}); sys.argv = ['livecast', 'serve']; " \
                 "from livecast.cli import app; app()"  # fmt: skip
        command = [sys.executable, "-c", launch]
    with open(workdir / "server.log", "wb") as log:
        server = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  preexec_fn=raise_nofile)  # fmt: skip
    return server, env, f"127.0.0.1:{port}"


def run(args: argparse.Namespace, workdir: Path) -> int:
    import httpx
    import redis

    server, env, address = start(args, workdir)
    log = workdir / "server.log"
    client = redis.Redis.from_url(args.redis_url)
    try:
        http = httpx.Client(timeout=30)
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"livecast serve did not become healthy:\n{tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"http://{address}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        command = [str(Path(sys.executable).with_name("livecast")), "token", "create", "--user", "fanout"]
        made = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
        if made.returncode != 0:
            raise BenchError(f"livecast token create failed: {made.stderr.strip()}")
        token = made.stdout.strip().splitlines()[-1]
        body = http.post(f"http://{address}/graphql", headers={"Authorization": f"Bearer {token}"},
                         json={"query": CREATE_STREAM, "variables": {"input": {"title": "fanout"}}}).json()  # fmt: skip
        stream = (body.get("data") or {}).get("createStream") or {}
        if stream.get("__typename") != "Stream":
            raise BenchError(f"createStream failed: {body}")
        bench = Bench(args, server, client, f"ws://{address}/graphql", token, stream["id"], stream["owner"]["id"], log)

        warm, _ = bench.open(min(50, min(args.subscribers)))  # first-use allocations are not per subscriber
        warm.close()
        time.sleep(2.0)
        base_rss = rss_bytes(server.pid)
        print(f"server pid {server.pid}, {os.cpu_count()} cores, bus {args.redis_url}, load processes "
              f"{args.load_procs}, {args.events} events {args.interval:g} s apart, compression "
              f"{'off' if args.no_compression else 'permessage-deflate (as browsers)'}"
              f"{', server GC thresholds ' + args.server_gc if args.server_gc else ''}", flush=True)  # fmt: skip
        results = [bench.step(n, base_rss) for n in args.subscribers]
        server.send_signal(signal.SIGINT)
        server.wait(30)
        problems = [line for line in log.read_text(errors="replace").splitlines() if SERVER_PROBLEM.search(line)]
        final = [r for r in results if r["n"] >= TARGET_N]
        if final:
            r = final[-1]
            print(f"targets at N={r['n']:.0f}: p99 {r['p99'] * 1000:.0f} ms <= {TARGET_P99 * 1000:.0f} ms "
                  f"{verdict(r['p99'] <= TARGET_P99)}; {r['kb']:.1f} KB/subscriber <= {TARGET_KB:g} KB "
                  f"{verdict(r['kb'] <= TARGET_KB)}; lost {r['lost']:.0f} {verdict(r['lost'] == 0)}")  # fmt: skip
        else:
            print(f"targets are for {TARGET_N} subscribers: not measured (largest N {max(args.subscribers)})")
        if problems:
            print("livecast serve logged errors:\n    " + "\n    ".join(problems[:20]), file=sys.stderr)
            return 1
        return 0
    finally:
        client.close()
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--subscribers", default="1000,5000,10000", help="comma-separated N (default 1000,5000,10000)")
    parser.add_argument("--events", type=int, default=10, help="measured events per N (default 10)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between events (default 2)")
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to wait for late deliveries (default 20)")
    parser.add_argument("--load-procs", type=int, default=2, help="load processes (default 2)")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="handshakes in flight per load process")
    parser.add_argument("--connect-timeout", type=float, default=240.0, help="seconds to open N subscribers")
    parser.add_argument("--ready-timeout", type=float, default=60.0, help="seconds for all to be registered")
    parser.add_argument("--no-compression", action="store_true", help="do not offer permessage-deflate")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="LIVECAST_BUS_URL of the server")
    parser.add_argument("--server-gc", metavar="T0,T1,T2", help="run the API process with gc.set_threshold(T0,T1,T2)")
    parser.add_argument("--profile", metavar="DIR", help="record py-spy stacks of the API process during the events")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server log, DB)")
    args = parser.parse_args(argv)
    try:
        args.subscribers = sorted({int(n) for n in args.subscribers.split(",") if n.strip()})
    except ValueError:
        parser.error("--subscribers: comma-separated integers")
    if not args.subscribers or min(args.subscribers) < 1 or args.events < 1 or args.load_procs < 1:
        parser.error("need N >= 1, --events >= 1, --load-procs >= 1")
    if args.server_gc and not re.fullmatch(r"\d+,\d+,\d+", args.server_gc):
        parser.error("--server-gc: three integers, e.g. 50000,20,100")
    if not Path("/proc/self/status").exists():
        parser.error("needs Linux /proc")
    raise_nofile()
    signal.signal(signal.SIGTERM, _interrupted)  # clean up (server, load processes, directory) on SIGTERM too
    workdir = Path(tempfile.mkdtemp(prefix="livecast-fanout-"))
    try:
        return run(args, workdir)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
