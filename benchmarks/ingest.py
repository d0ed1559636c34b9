"""Ingest benchmark: N parallel passthrough RTMP publishes against one ``livecast serve`` process.

    .venv/bin/python benchmarks/ingest.py [--streams 4] [--seconds 30] [--bitrate 6M] [--poll file|http] [--keep]

What it does:

1. Starts ``livecast serve`` in a fresh temporary directory (own SQLite DB, data dir, media dir, free ports)
   and waits for ``/healthz``. Meanwhile it pre-encodes the test media once: 1280x720 30 fps H.264 (libx264
   veryfast, ``--bitrate`` CBR-ish, 2 s GOP) + AAC 128k, as FLV. Publishers then only copy that file
   (``ffmpeg -re -c copy``), so encoding does not compete for the CPU during the measurement.
2. Creates a token (``livecast token create``) and N streams over GraphQL (``reconnectWindow: 0``).
3. Measures the server's idle CPU, then starts N publishers at once and measures the CPU of the livecast
   process *only* (``utime + stime`` of its pid from ``/proc/<pid>/stat``; its ffmpeg packager children are
   reported separately and excluded) from ``--warmup`` seconds after start until just before the first
   publisher finishes.
4. Glass-to-playlist latency: ``-re`` (with ``-readrate_initial_burst 0.001``) sends the frame with media time
   ``t`` at ``T0 + t``. ``T0`` (the publisher's media clock origin) comes from its ``-progress`` reports:
   ``min(wall time received - out_time)``; that excludes the process start and RTMP connect/publish before
   the first frame (about 0.2 s, printed separately). The playlist is polled every 20 ms (100 ms with
   ``--poll http``); when segment ``k`` first appears, ``t_listed - (T0 + media start of k)`` is the latency of
   the oldest frame in the segment (it includes waiting for the segment to fill: the segment duration) and
   ``t_listed - (T0 + media end of k)`` is the pipeline overhead after the segment's last frame. Media times
   are the running sum of ``#EXTINF`` indexed by ``#EXT-X-MEDIA-SEQUENCE``, so rolled-out segments count.
   By default the playlist file is read from the media directory (byte-identical to what ``/hls/...``
   serves: the handler reads the file on every request) so that polling costs the server no CPU;
   ``--poll http`` polls the ``hlsUrl`` instead (that adds N x 10 requests/s to the measured CPU).

Exit status: 0 when the benchmark ran (even if the CPU target is missed: it prints FAIL); 1 on errors
(server did not start, a publish failed, no segments, the server logged errors or tracebacks).
Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import imageio_ffmpeg

TARGET_CPU_PER_STREAM = 5.0  # % of one core per passthrough stream (ffmpeg excluded)
POLL_MS = {"file": 20, "http": 100}  # default playlist poll interval per --poll mode
IDLE_SECONDS = 3.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
CREATE_STREAM = """
mutation($input: CreateStreamInput!) {
  createStream(input: $input) {
    __typename
    ... on Stream { id ingest { rtmpUrl streamKey } playback { hlsUrl } }
    ... on Error { code message }
  }
}
"""
STREAM_STATUS = "query($id: ID!) { stream(id: $id) { id status } }"
SERVER_PROBLEM = re.compile(r"Traceback|\b(ERROR|CRITICAL)\b")
GRACEFUL_EXIT = (0, 128 + signal.SIGINT, -signal.SIGINT)
"""``livecast serve``'s exit status after SIGINT and a clean shutdown: uvicorn (>= 0.29) raises the signal it
handled again once it has shut down, so the process ends as interrupted (130) rather than with 0."""


class BenchError(Exception):
    """The benchmark could not run (not a missed target)."""


# ---------------------------------------------------------------------------------------------- /proc helpers


def proc_cpu_seconds(pid: int) -> float | None:
    """``utime + stime`` of ``pid`` itself (all its threads, not its children) in seconds; None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": fields[0] is field 3 (state)
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLK_TCK


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (the server's ffmpeg packagers)."""
    children: list[int] = []
    tasks = Path(f"/proc/{pid}/task")
    if (tasks / str(pid) / "children").exists():  # CONFIG_PROC_CHILDREN: cheap
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                children += [int(c) for c in (task / "children").read_text().split()]
        return children
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


@dataclass
class CpuTracker:
    """CPU seconds of a changing set of processes over a window (processes that exit keep their last sample)."""

    start: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)

    def sample(self, pids: list[int]) -> None:
        for pid in pids:
            value = proc_cpu_seconds(pid)
            if value is not None:
                self.last[pid] = value
                self.start.setdefault(pid, value)

    def mark_start(self, pids: list[int]) -> None:
        self.start.clear()
        self.last.clear()
        self.sample(pids)

    def seconds(self) -> float:
        return sum(self.last[pid] - self.start[pid] for pid in self.last)


# ------------------------------------------------------------------------------------------------ playlists


@dataclass
class StreamProbe:
    """One stream: its publisher and what has been seen in its playlist."""

    index: int
    stream_id: str
    publish_url: str
    hls_url: str
    playlist_path: Path
    t0: float = 0.0
    """Wall time just before the publisher was started."""
    clock_origin: float | None = None
    """Wall time of the publisher's media time 0, from ``-progress``: ``min(received - out_time)``. Later than
    ``t0`` by the process start and the RTMP connect/handshake/publish, which happen before ``-re`` starts."""
    publisher: subprocess.Popen[bytes] | None = None
    publisher_log: Path | None = None
    ended_at: float | None = None
    durations: dict[int, float] = field(default_factory=dict)  # media sequence -> #EXTINF seconds
    listed_at: dict[int, float] = field(default_factory=dict)  # media sequence -> wall time first seen
    http_errors: int = 0

    def observe(self, text: str, now: float) -> None:
        sequence, duration = 0, None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                sequence = int(line.split(":", 1)[1])
            elif line.startswith("#EXTINF:"):
                duration = float(line.split(":", 1)[1].split(",", 1)[0])
            elif line and not line.startswith("#"):
                if duration is not None and line.startswith("seg_"):  # not the slate served before go-live
                    self.durations.setdefault(sequence, duration)
                    self.listed_at.setdefault(sequence, now)
                sequence, duration = sequence + 1, None

    def latencies(self) -> tuple[list[float], list[float], list[float], int]:
        """(from segment start, from segment end) latencies in seconds and the durations of the segments listed
        while publishing, and the number of segments that could not be placed (an earlier one was never seen)."""
        from_start: list[float] = []
        from_end: list[float] = []
        durations: list[float] = []
        unplaced = 0
        media_end = 0.0
        first = min(self.durations, default=0)  # livecast's first segment is 1 (0 is the slate shown before it)
        for seq in range(first, max(self.durations, default=-1) + 1):
            if seq not in self.durations:
                unplaced += sum(1 for s in self.durations if s > seq)
                break
            media_start, media_end = media_end, media_end + self.durations[seq]
            listed = self.listed_at[seq]
            if self.ended_at is not None and listed > self.ended_at:
                continue  # flushed after the encoder stopped: not steady-state
            origin = self.clock_origin if self.clock_origin is not None else self.t0
            from_start.append(listed - (origin + media_start))
            from_end.append(listed - (origin + media_end))
            durations.append(self.durations[seq])
        return from_start, from_end, durations, unplaced


def read_progress(probe: StreamProbe) -> None:
    """Thread: read the publisher's ``-progress`` output (to EOF, so it never blocks) and track its clock."""
    assert probe.publisher is not None and probe.publisher.stdout is not None
    for line in probe.publisher.stdout:
        now = time.time()
        if line.startswith(b"out_time_us="):
            with contextlib.suppress(ValueError):
                out_time = int(line.split(b"=", 1)[1]) / 1e6
                if out_time > 0:
                    origin = now - out_time
                    if probe.clock_origin is None or origin < probe.clock_origin:
                        probe.clock_origin = origin


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(values: list[float]) -> str:
    if not values:
        return "n/a (no segments)"
    return (
        f"p50={percentile(values, 50) * 1000:.0f} p95={percentile(values, 95) * 1000:.0f} "
        f"max={max(values) * 1000:.0f} (n={len(values)})"
    )


# ----------------------------------------------------------------------------------------------------- setup


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_bitrate(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad bitrate {text!r} (e.g. 6M, 2500k)")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def livecast_command() -> list[str]:
    script = Path(sys.executable).with_name("livecast")
    return [str(script)] if script.exists() else [sys.executable, "-m", "livecast.cli"]


def encode_command(ffmpeg: str, out: Path, seconds: float, bitrate: int) -> list[str]:
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", f"{seconds:g}",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-b:v", str(bitrate), "-maxrate", str(bitrate), "-bufsize", str(2 * bitrate),
        "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "128k",
        "-f", "flv", str(out),
    ]  # fmt: skip


def publish_command(ffmpeg: str, media: Path, url: str, seconds: float) -> list[str]:
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
        # Real time from the first frame. The default initial burst sends the first 0.5 s at once, and this
        # ffmpeg treats 0 as "default", hence 1 ms. Measured: frames then leave within ~30 ms of T0 + pts.
        "-re", "-readrate_initial_burst", "0.001",
        "-progress", "pipe:1", "-stats_period", "0.1",  # media time sent so far, 10 times a second
        "-i", str(media), "-t", f"{seconds:g}",
        "-c", "copy", "-f", "flv", url,
    ]  # fmt: skip


def graphql(client: httpx.Client, url: str, token: str, query: str, variables: dict[str, object]) -> dict:
    response = client.post(
        url, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise BenchError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def wait_healthy(client: httpx.Client, base: str, server: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"livecast serve exited ({server.returncode}):\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if client.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"livecast serve not healthy after {timeout:g} s:\n{tail(log)}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def stop_process(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ------------------------------------------------------------------------------------------------------ main


def run_in_tempdir(run: Callable[[argparse.Namespace, Path], int], args: argparse.Namespace, *, prefix: str) -> int:
    """``run(args, workdir)`` in a fresh temporary directory (kept with ``--keep``); 1 on ``BenchError``,
    130 on Ctrl-C. Shared by the benchmarks."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
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


def run(args: argparse.Namespace, workdir: Path) -> int:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    http_port, rtmp_port = free_port(), free_port()
    media_dir = workdir / "media"
    env = {
        **os.environ,
        "LIVECAST_DATABASE_URL": f"sqlite://{workdir / 'livecast.db'}",
        "LIVECAST_DATA_DIR": str(workdir / "data"),
        "LIVECAST_MEDIA_DIR": str(media_dir),
        "LIVECAST_HTTP_PORT": str(http_port),
        "LIVECAST_RTMP_PORT": str(rtmp_port),
        "LIVECAST_HOST": "127.0.0.1",
        "LIVECAST_LOG_LEVEL": "WARNING",
        "LIVECAST_FFMPEG": ffmpeg,
        "LIVECAST_BUS_URL": "memory://",
        "LIVECAST_HLS_SEGMENT_SECONDS": f"{args.segment_seconds:g}",
        "LIVECAST_INGEST_MAX_PENDING_PER_ADDRESS": str(max(8, args.streams)),  # every publisher is on 127.0.0.1
        "LIVECAST_MAX_OPEN_STREAMS_PER_OWNER": str(max(20, args.streams)),  # one user creates every stream
        "LIVECAST_STREAM_CREATE_RATE_LIMIT": f"{max(50, args.streams)}/day",
    }
    for name in ("LIVECAST_ENV", "LIVECAST_SECRET_KEY", "LIVECAST_PUBLIC_URL", "LIVECAST_RTMP_PUBLIC_URL"):
        env.pop(name, None)  # a development server of its own, whatever the caller's shell has
    base = f"http://127.0.0.1:{http_port}"
    server_log = workdir / "server.log"
    media_file = workdir / "media.flv"

    server: subprocess.Popen[bytes] | None = None
    encoder: subprocess.Popen[bytes] | None = None
    probes: list[StreamProbe] = []
    try:
        print(f"workdir {workdir}", flush=True)
        # Server start and the one-off encode run at the same time (both are before any measurement).
        with open(server_log, "wb") as log:
            server = subprocess.Popen(
                [*livecast_command(), "serve"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        encode_seconds = args.seconds + 1
        print(f"pre-encoding {encode_seconds:g} s of 1280x720 30 fps H.264 {args.bitrate_text} + AAC ...", flush=True)
        encode_started = time.monotonic()
        with open(workdir / "encode.log", "wb") as log:
            encoder = subprocess.Popen(
                encode_command(ffmpeg, media_file, encode_seconds, args.bitrate), stdout=log, stderr=log
            )

        client = httpx.Client(timeout=10)
        wait_healthy(client, base, server, server_log, timeout=60)
        token_run = subprocess.run(
            [*livecast_command(), "token", "create", "--user", "bench"],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if token_run.returncode != 0:
            raise BenchError(f"livecast token create failed: {token_run.stderr.strip()}")
        token = token_run.stdout.strip().splitlines()[-1]

        for i in range(args.streams):
            result = graphql(
                client, f"{base}/graphql", token, CREATE_STREAM,
                {"input": {"title": f"bench {i}", "reconnectWindow": 0}},
            )["createStream"]  # fmt: skip
            if result["__typename"] != "Stream":
                raise BenchError(f"createStream failed: {result}")
            hls_url = result["playback"]["hlsUrl"]
            playback_id = hls_url.rstrip("/").split("/")[-2]
            probes.append(
                StreamProbe(
                    index=i,
                    stream_id=result["id"],
                    publish_url=f"{result['ingest']['rtmpUrl']}/{result['ingest']['streamKey']}",
                    hls_url=hls_url,
                    playlist_path=media_dir / playback_id / "index.m3u8",
                )
            )

        if encoder.wait(timeout=300) != 0:
            raise BenchError(f"pre-encode failed:\n{tail(workdir / 'encode.log')}")
        encode_took = time.monotonic() - encode_started
        media_bps = media_file.stat().st_size * 8 / encode_seconds
        print(f"media ready in {encode_took:.1f} s: {media_bps / 1e6:.2f} Mbit/s (video+audio+FLV)", flush=True)

        # Idle baseline.
        time.sleep(1.0)
        idle_start, idle_t = proc_cpu_seconds(server.pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        idle_cpu = 100 * ((proc_cpu_seconds(server.pid) or 0) - (idle_start or 0)) / (time.monotonic() - idle_t)

        # Publish.
        readers: list[threading.Thread] = []
        print(f"publishing {args.streams} stream(s) for {args.seconds:g} s ...", flush=True)
        for probe in probes:
            probe.publisher_log = workdir / f"publisher_{probe.index}.log"
            with open(probe.publisher_log, "wb") as log:
                probe.t0 = time.time()
                probe.publisher = subprocess.Popen(
                    publish_command(ffmpeg, media_file, probe.publish_url, args.seconds),
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                )  # fmt: skip
            readers.append(threading.Thread(target=read_progress, args=(probe,), daemon=True))
            readers[-1].start()
        all_started = time.time()
        window_start_at = all_started + args.warmup
        window_end_at = min(p.t0 for p in probes) + args.seconds - 0.5  # before any publisher finishes
        if window_end_at - window_start_at < 1:
            raise BenchError("--seconds too short for --warmup (need at least warmup + 1.5 s)")

        server_cpu = CpuTracker()
        ffmpeg_cpu = CpuTracker()
        publisher_cpu = CpuTracker()
        window: dict[str, float] = {}
        machine_start: tuple[int, int] | None = None
        machine = (0, 0)
        deadline = all_started + args.seconds + 30
        http = httpx.Client(timeout=2) if args.poll == "http" else None
        next_poll = time.time()
        last_child_sample = 0.0

        def publisher_pids() -> list[int]:
            return [p.publisher.pid for p in probes if p.publisher is not None]

        while True:
            now = time.time()
            for probe in probes:
                if probe.publisher is not None and probe.ended_at is None and probe.publisher.poll() is not None:
                    probe.ended_at = now
                if http is not None:
                    try:
                        response = http.get(probe.hls_url)
                        seen = time.time()
                        if response.status_code == 200:
                            probe.observe(response.text, seen)
                        elif response.status_code != 404:
                            probe.http_errors += 1
                    except httpx.HTTPError:
                        probe.http_errors += 1
                else:
                    try:
                        text = probe.playlist_path.read_text(encoding="utf-8")
                    except FileNotFoundError:
                        continue
                    probe.observe(text, time.time())
            now = time.time()
            if "start" not in window and now >= window_start_at:
                window["start"] = now
                server_cpu.mark_start([server.pid])
                ffmpeg_cpu.mark_start(child_pids(server.pid))
                publisher_cpu.mark_start(publisher_pids())
                machine_start = machine_jiffies()
            elif "start" in window and "end" not in window:
                if now - last_child_sample >= 0.5 or now >= window_end_at:
                    last_child_sample = now
                    ffmpeg_cpu.sample(child_pids(server.pid))
                    publisher_cpu.sample(publisher_pids())
                if now >= window_end_at:
                    window["end"] = now
                    server_cpu.sample([server.pid])
                    machine = machine_jiffies()
            if all(p.ended_at is not None for p in probes) or now > deadline:
                break
            if server.poll() is not None:
                raise BenchError(f"livecast serve exited during the run ({server.returncode}):\n{tail(server_log)}")
            next_poll += args.poll_ms / 1000
            time.sleep(max(0.0, next_poll - time.time()))
        if http is not None:
            http.close()
        for reader in readers:
            reader.join(timeout=5)
        if not all(p.ended_at is not None for p in probes):
            raise BenchError("publishers did not finish in time")
        if "end" not in window:
            raise BenchError("the measurement window never closed")

        failed = [p for p in probes if p.publisher is not None and p.publisher.returncode != 0]
        for probe in failed:
            assert probe.publisher is not None and probe.publisher_log is not None
            print(f"publisher {probe.index} exited {probe.publisher.returncode}:", file=sys.stderr)
            print(tail(probe.publisher_log, 10), file=sys.stderr)

        # Streams end when their encoder disconnects (reconnectWindow 0).
        time.sleep(2.0)
        statuses = []
        for probe in probes:
            data = graphql(client, f"{base}/graphql", token, STREAM_STATUS, {"id": probe.stream_id})
            statuses.append((data["stream"] or {}).get("status", "?"))
        served = client.get(probes[0].hls_url)  # the playlist is reachable over HTTP as listed in playback.hlsUrl
        client.close()

        # Shut the server down gracefully (SIGINT like Ctrl-C), then look at what it logged.
        stop_process(server, signal.SIGINT, timeout=20)
        server_rc = server.returncode
        server_text = server_log.read_text(errors="replace")
        problems = [line for line in server_text.splitlines() if SERVER_PROBLEM.search(line)]

        # Results.
        elapsed = window["end"] - window["start"]
        total_cpu = 100 * server_cpu.seconds() / elapsed
        per_stream = total_cpu / args.streams
        busy = machine[0] - machine_start[0] if machine_start else 0
        total_jiffies = machine[1] - machine_start[1] if machine_start else 0
        from_start: list[float] = []
        from_end: list[float] = []
        counted: list[float] = []
        unplaced = 0
        for probe in probes:
            a, b, d, u = probe.latencies()
            from_start += a
            from_end += b
            counted += d
            unplaced += u
        verdict = "PASS" if per_stream <= TARGET_CPU_PER_STREAM else "FAIL"
        mean_segment = sum(counted) / len(counted) if counted else 0.0

        print()
        print(f"streams={args.streams} seconds={args.seconds:g} bitrate={args.bitrate_text} "
              f"(media {media_bps / 1e6:.2f} Mbit/s) cores={os.cpu_count()} poll={args.poll}")  # fmt: skip
        print(
            f"livecast CPU: total {total_cpu:.1f}% of one core, per stream {per_stream:.1f}%  "
            f"(target <= {TARGET_CPU_PER_STREAM:g}% per stream: {verdict}; "
            f"window {elapsed:.1f} s from {args.warmup:g} s after start; livecast pid only, ffmpeg excluded)"
        )
        print(f"idle CPU: {idle_cpu:.1f}% (livecast pid, {IDLE_SECONDS:g} s before publishing)")
        print(
            f"not counted above: ffmpeg packagers {100 * ffmpeg_cpu.seconds() / elapsed:.1f}% of one core total, "
            f"publishers {100 * publisher_cpu.seconds() / elapsed:.1f}%, "
            f"machine busy {100 * busy / total_jiffies if total_jiffies else 0:.0f}% of {os.cpu_count()} cores"
        )
        print(
            f"glass-to-playlist latency ms: {ms(from_start)}; "
            f"includes the {args.segment_seconds:g} s segment duration (mean #EXTINF {mean_segment:.2f} s)"
        )
        print(
            f"  after the segment's last frame (packaging + listing overhead) ms: {ms(from_end)}; "
            f"poll every {args.poll_ms:g} ms"
        )
        startup = [p.clock_origin - p.t0 for p in probes if p.clock_origin is not None]
        no_clock = len(probes) - len(startup)
        print(
            f"  not counted: publisher start to its first frame (process + RTMP connect/publish) ms: {ms(startup)}"
            + (f"; {no_clock} publisher(s) without -progress clock, measured from launch" if no_clock else "")
        )
        print(f"stream status after the encoders stopped: {', '.join(statuses)}; "
              f"playlist over HTTP: {served.status_code}; server exit code: {server_rc}")  # fmt: skip

        errors: list[str] = []
        if failed:
            errors.append(f"{len(failed)} publisher(s) failed")
        if not from_start:
            errors.append("no segments were listed")
        if unplaced:
            errors.append(f"{unplaced} segment(s) could not be placed (an earlier segment was never seen)")
        if any(p.http_errors for p in probes):
            errors.append(f"{sum(p.http_errors for p in probes)} playlist request(s) failed")
        if served.status_code != 200:
            errors.append(f"GET {probes[0].hls_url} answered {served.status_code}")
        if server_rc not in GRACEFUL_EXIT:
            errors.append(f"livecast serve exited with {server_rc} after SIGINT")
        if problems:
            errors.append("livecast serve logged errors:\n    " + "\n    ".join(problems[:40]))
            print(f"\n--- livecast serve log (tail) ---\n{tail(server_log, 80)}", file=sys.stderr)
        if total_jiffies and busy / total_jiffies > 0.9:
            print("warning: the machine was CPU-saturated (>90%); numbers are pessimistic", file=sys.stderr)
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        return 1 if errors else 0
    finally:
        for probe in probes:
            stop_process(probe.publisher)
        stop_process(encoder)
        stop_process(server, signal.SIGINT, timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--streams", type=int, default=4, help="parallel publishes (default 4)")
    parser.add_argument("--seconds", type=float, default=30.0, help="publish duration in seconds (default 30)")
    parser.add_argument("--bitrate", default="6M", help="video bitrate of the test media (default 6M)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after start not measured (default 5)")
    parser.add_argument("--segment-seconds", type=float, default=2.0, help="LIVECAST_HLS_SEGMENT_SECONDS (default 2)")
    parser.add_argument(
        "--poll", choices=("file", "http"), default="file",
        help="read playlists from the media dir (default; costs the server nothing) or GET the hlsUrl",
    )  # fmt: skip
    parser.add_argument("--poll-ms", type=float, help="playlist poll interval (default 20 for file, 100 for http)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, media, DB)")
    args = parser.parse_args(argv)
    if args.streams < 1:
        parser.error("--streams must be >= 1")
    args.bitrate_text = args.bitrate
    if args.poll_ms is None:
        args.poll_ms = POLL_MS[args.poll]
    args.bitrate = parse_bitrate(args.bitrate)
    if not Path("/proc/self/stat").exists():
        parser.error("needs Linux /proc")

    return run_in_tempdir(run, args, prefix="livecast-bench-")


if __name__ == "__main__":
    sys.exit(main())
