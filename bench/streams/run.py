"""Streams benchmark (run by hand): python bench/streams/run.py [--cameras 1,10,50]
[--webrtc-viewers K]

For each camera count N: `fakecloud serve` runs in a child process (temporary data folder, high
ports, loopback only); N simulated NetCam HD cameras (1280x720 H.264 at 15 fps, in this
process) log in and stream through its relay when watched. Phases, each measured for --seconds
after the viewers joined and settled:

  1. one RTSP player per camera (RTP over TCP, this bench's own minimal RTSP client)
  2. plus one WebRTC viewer per camera (aiortc, WHEP), or K with --webrtc-viewers
  3. plus a second RTSP player per camera (skipped where fakecloud's 64 RTSP clients would not do)
  4. plus the reference: per camera, `ffmpeg -i <fakecloud FLV> -c copy -f rtsp` relaying into
     an RTSP receiver of this bench's own

Reported: the server's CPU per camera (phase 1: the camera's ingest and its first viewer), per
added RTSP and WebRTC viewer, and per reference relay (fakecloud serving FLV plus the ffmpeg
process), and the latency each viewer adds: from the simulated camera sending a frame to the
frame's last RTP packet arriving, p50/p99. Ratios are fakecloud over the reference. The machine
runs the cameras, every viewer and ffmpeg too: this process's CPU is printed, so a saturated
run shows. Every phase has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Runs from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from bench.hostile.common import free_ports
from bench.process import cpu_seconds
from bench.streams.clients import HOST, FrameTimes, PushReceiver, WebRtcViewer, rtsp_player
from fakecloud.core.config import Settings
from fakecloud.media.rtsp.server import MAX_CLIENTS as RTSP_MAX_CLIENTS
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.demo import simulated_mac
from fakecloud.sim.video import DEFAULT_PROFILE, PROFILES, pattern_loop
from fakecloud.store.store import Store

OWNER, PASSWORD = "bench", "bench streams password"
START_TIMEOUT = 60.0
JOIN_TIMEOUT = 60.0  # all viewers of a phase see frames
FPS = PROFILES[DEFAULT_PROFILE].fps


@dataclass
class Kind:
    """The viewers of one kind, across phases."""

    name: str
    times: list[FrameTimes] = field(default_factory=list)

    def delays(self, windows: list[tuple[float, float]]) -> list[float]:
        """Milliseconds added to the frames that arrived inside a measuring window (viewers
        joining between windows load the machine, and this process's cameras with it)."""
        return [
            delay
            for times in self.times
            for arrived, delay in times.delays
            if any(start <= arrived <= end for start, end in windows)
        ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@contextlib.contextmanager
def server_process(
    data_dir: Path, cameras: int, extra: dict[str, str] | None = None, webrtc_per_camera: int = 1
) -> Any:
    """`fakecloud serve` on loopback with high ports (plus `extra` settings, FAKECLOUD_...);
    yields (process, ports)."""
    cloud, http, relay, rtsp = free_ports(4)
    store = Store(Settings(data_dir=data_dir).database_path)
    try:
        store.add_account(OWNER, PASSWORD)
    finally:
        store.close()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FAKECLOUD_")}
    environment |= {
        "FAKECLOUD_DATA_DIR": str(data_dir),
        "FAKECLOUD_ANNOUNCE_ADDRESS": HOST,
        "FAKECLOUD_BIND_ADDRESS": HOST,
        "FAKECLOUD_CLOUD_PORTS": str(cloud),
        "FAKECLOUD_HTTP_PORT": str(http),
        "FAKECLOUD_RELAY_PORT": str(relay),
        "FAKECLOUD_RTSP_PORT": str(rtsp),
        "FAKECLOUD_BROKER_PORT": "0",
        "FAKECLOUD_DNS_ENABLED": "false",
        "FAKECLOUD_WEBRTC_MAX_PEERS": str(max(32, cameras * webrtc_per_camera)),
        "FAKECLOUD_WEBRTC_MAX_PEERS_PER_CAMERA": str(max(8, webrtc_per_camera)),
        "FAKECLOUD_LOG_LEVEL": "warning",
    }
    environment |= extra or {}
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "fakecloud", "serve"],
        env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield process, {"cloud": cloud, "http": http, "rtsp": rtsp}
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def wait_ready(process: subprocess.Popen[bytes], http: int, log: Path) -> None:
    async with asyncio.timeout(START_TIMEOUT), httpx.AsyncClient() as client:
        while True:
            if process.poll() is not None:
                tail = (await asyncio.to_thread(log.read_text))[-3000:]
                raise SystemExit(f"the server exited at start:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://{HOST}:{http}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)  # polling a starting process: nothing to wait on


@contextlib.asynccontextmanager
async def online_cameras(count: int, cloud_port: int) -> AsyncIterator[list[SimulatedCamera]]:
    await asyncio.to_thread(pattern_loop, PROFILES[DEFAULT_PROFILE])  # encoded once, shared
    cameras = [
        SimulatedCamera(HOST, cloud_port, login=OWNER, password=PASSWORD, mac=simulated_mac(i))
        for i in range(count)
    ]
    tasks = [asyncio.create_task(camera.run()) for camera in cameras]
    try:
        async with asyncio.timeout(START_TIMEOUT):
            await asyncio.gather(*(camera.logged_in.wait() for camera in cameras))
        yield cameras
    finally:
        for camera in cameras:
            camera.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def times_of(camera: SimulatedCamera) -> FrameTimes:
    return FrameTimes(lambda: camera.video_sender, FPS)


async def joined(times: list[FrameTimes], frames: int = 2 * FPS) -> None:
    """Until every new viewer has timed `frames` frames (deadline JOIN_TIMEOUT)."""
    async with asyncio.timeout(JOIN_TIMEOUT):
        while any(len(t.delays) < frames for t in times):  # noqa: ASYNC110 - the bench's own state
            await asyncio.sleep(0.1)


@dataclass
class Meter:
    """CPU seconds of the server, this process and the reference's ffmpeg processes."""

    server_pid: int
    relays: list[asyncio.subprocess.Process] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)

    def read(self) -> tuple[float, float, float, float]:
        ffmpeg = sum(cpu_seconds(p.pid) for p in self.relays if p.returncode is None)
        now = asyncio.get_running_loop().time()  # the clock FrameTimes notes arrivals by
        return now, cpu_seconds(self.server_pid), time.process_time(), ffmpeg

    async def window(self, settle: float, seconds: float) -> dict[str, float]:
        """Cores used over a window (1.0 = one core busy), after `settle` seconds."""
        await asyncio.sleep(settle)  # new viewers' first seconds (keyframe waits, handshakes)
        before = self.read()
        lags = await loop_lags(seconds)
        after = self.read()
        self.windows.append((before[0], after[0]))
        elapsed = after[0] - before[0]
        names = ("server", "bench", "ffmpeg")
        cores = {name: (after[i] - before[i]) / elapsed for i, name in enumerate(names, 1)}
        return cores | {"lag": percentile(lags, 0.99)}


async def loop_lags(seconds: float, interval: float = 0.01) -> list[float]:
    """How late this process's loop wakes, in ms, over `seconds`: the cameras run on it and
    are timed by their schedule, so a late loop shows up as latency that is the bench's own."""
    loop = asyncio.get_running_loop()
    lags, end = [0.0], loop.time() + seconds
    while (now := loop.time()) < end:
        await asyncio.sleep(interval)  # the measuring window, sampled
        lags.append(max(0.0, (loop.time() - now - interval) * 1000))
    return lags


async def run_count(count: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every phase for `count` cameras; CPU per phase and each kind's delays."""
    kinds = {name: Kind(name) for name in ("rtsp", "webrtc", "reference")}
    tasks: list[asyncio.Task[None]] = []
    viewers: list[WebRtcViewer] = []
    phases: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir()
        with server_process(data_dir, count, webrtc_per_camera=args.webrtc_viewers) as (
            process,
            ports,
        ):
            await wait_ready(process, ports["http"], data_dir / "server.log")
            meter = Meter(process.pid)
            base = f"http://{HOST}:{ports['http']}"
            async with (
                online_cameras(count, ports["cloud"]) as cameras,
                httpx.AsyncClient(base_url=base, timeout=30) as client,
            ):
                by_id = {camera.camera_id: camera for camera in cameras}

                async def add_players() -> None:
                    new = [times_of(camera) for camera in cameras]
                    for camera, times in zip(cameras, new, strict=True):
                        player = rtsp_player(ports["rtsp"], camera.camera_id or 0, times)
                        tasks.append(asyncio.create_task(player))
                    kinds["rtsp"].times += new
                    await joined(new)

                async def add_webrtc() -> None:
                    watched = [camera for camera in cameras for _ in range(args.webrtc_viewers)]
                    new = [times_of(camera) for camera in watched]
                    for camera, times in zip(watched, new, strict=True):
                        viewers.append(viewer := WebRtcViewer(times))
                        await viewer.start(client, camera.camera_id or 0)
                    kinds["webrtc"].times += new
                    await joined(new)

                reference: dict[int, FrameTimes] = {}
                receiver = PushReceiver(reference.get)

                async def add_relays() -> None:
                    port = await receiver.start()
                    for camera_id, camera in by_id.items():
                        reference[camera_id or 0] = times_of(camera)
                        flv = f"{base}/cxs/api/devices/{camera_id}/cam/liveStream?type=video/x-flv"
                        meter.relays.append(await asyncio.create_subprocess_exec(
                            "ffmpeg", "-v", "error", "-nostdin", "-i", flv, "-c", "copy",
                            "-f", "rtsp", "-rtsp_transport", "tcp",
                            f"rtsp://{HOST}:{port}/{camera_id}",
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        ))  # fmt: skip
                    kinds["reference"].times += list(reference.values())
                    await joined(list(reference.values()))

                steps: list[tuple[str, Callable[[], Any]]] = [
                    ("rtsp", add_players), ("webrtc", add_webrtc)
                ]  # fmt: skip
                if 2 * count <= RTSP_MAX_CLIENTS:
                    steps.append(("rtsp2", add_players))
                steps.append(("reference", add_relays))
                try:
                    for name, add in steps:
                        await add()
                        phases[name] = await meter.window(args.settle, args.seconds)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    for viewer in viewers:
                        await viewer.close()
                    for relay in meter.relays:
                        with contextlib.suppress(ProcessLookupError):
                            relay.terminate()
                        await asyncio.wait_for(relay.wait(), 10)
                    receiver.close()
    return {"phases": phases, "kinds": kinds, "windows": meter.windows}


def summary(count: int, result: dict[str, Any], webrtc_per_camera: int) -> dict[str, Any]:
    """Percent of one core per camera and per viewer; (p50, p99) milliseconds per kind."""
    phases, kinds = result["phases"], result["kinds"]
    server = {name: 100 * phase["server"] / count for name, phase in phases.items()}
    before_reference = server.get("rtsp2", server["webrtc"])
    figures: dict[str, Any] = {
        "camera": server["rtsp"],
        "webrtc_viewer": (server["webrtc"] - server["rtsp"]) / webrtc_per_camera,
        "rtsp_viewer": server["rtsp2"] - server["webrtc"] if "rtsp2" in server else None,
        "reference_viewer": server["reference"]
        - before_reference
        + 100 * phases["reference"]["ffmpeg"] / count,
        "bench": max(100 * phase["bench"] for phase in phases.values()),
        "lag": max(phase["lag"] for phase in phases.values()),
    }
    for name, kind in kinds.items():
        delays = kind.delays(result["windows"])
        figures[name] = (statistics.median(delays), percentile(delays, 0.99))
    return figures


HEADER = (
    f"{'cameras':>7} {'server/cam':>10} {'RTSP/viewer':>17} {'WebRTC/viewer':>17} "
    f"{'ffmpeg/viewer':>13} {'RTSP p50/p99 ms':>22} {'WebRTC p50/p99 ms':>22} "
    f"{'ffmpeg p50/p99 ms':>18} {'bench CPU':>9} {'bench lag p99':>13}"
)


def row(count: int, figures: dict[str, Any]) -> str:
    reference_cpu, (reference_p50, reference_p99) = (
        figures["reference_viewer"],
        figures["reference"],
    )

    def cpu(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f} ({value / reference_cpu:.2f}x)"

    def latency(name: str) -> str:
        p50, p99 = figures[name]
        return f"{p50:.1f}/{p99:.1f} ({p99 / reference_p99:.2f}x)"

    return (
        f"{count:>7} {figures['camera']:>10.2f} {cpu(figures['rtsp_viewer']):>17} "
        f"{cpu(figures['webrtc_viewer']):>17} {reference_cpu:>13.2f} {latency('rtsp'):>22} "
        f"{latency('webrtc'):>22} {f'{reference_p50:.1f}/{reference_p99:.1f}':>18} "
        f"{figures['bench']:>8.0f}% {figures['lag']:>10.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="1,10", help="camera counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per phase")
    parser.add_argument("--settle", type=float, default=3.0, help="wait before each window")
    parser.add_argument(
        "--webrtc-viewers", type=int, default=1, help="WebRTC viewers per camera in phase 2"
    )
    args = parser.parse_args()
    counts = [int(count) for count in args.cameras.split(",")]
    print(
        f"H.264 1280x720 at {FPS} fps per camera; {args.webrtc_viewers} WebRTC viewer(s) per "
        f"camera; {args.seconds:g} s per phase; "
        f"CPU in % of one core; (x) = fakecloud / the ffmpeg relay reference"
    )
    print(HEADER)
    for count in counts:
        figures = summary(count, asyncio.run(run_count(count, args)), args.webrtc_viewers)
        print(row(count, figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
