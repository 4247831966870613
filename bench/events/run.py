"""Events benchmark (run by hand): python bench/events/run.py [--cameras 50]

`fakecloud serve` runs in a child process (temporary data folder, high ports, loopback only)
publishing to a real mosquitto on a free loopback port; N simulated NetCam HD cameras (1280x720
H.264 at 15 fps, in this process) log in. Phases, each measured for --seconds after --settle:

  1. hls: the reference, one HLS reader per camera pulling the playlist and every segment
     (plain passthrough: it keeps every camera streaming, as the detector will)
  2. detect: plus server-side motion detection on every camera (PATCH .../options), no motion
  3. record: plus motion recording, every camera showing motion the whole window, so every
     camera has a clip being written (and its motion event, snapshot and MQTT messages)
  4. latency: --cycles motion on/off cycles per camera, cameras at staggered moments; the time
     from the first frame showing motion (the keyframe after show_motion(True), by the
     simulator's send schedule) to the MQTT motion ON message arriving at this bench's
     subscriber (aiomqtt), p50/p99; and from the show_motion(True) call itself. Split at the
     detector's decision (its "motion start" line in the server's JSON log, wall clock to
     the millisecond): keyframe -> detector (two changed pictures, one a second, and the
     decoding) and detector -> MQTT (event bus, outbox, mosquitto, the subscriber)

Missed: an MQTT ON or OFF that never came within MOTION_TIMEOUT (each camera's ON and OFF around
the recording phase, each cycle's ON). Reported: the server's CPU per camera for HLS, added by
detection and added by recording (in % of one core, with ratios to the HLS reference), the
recordings folder's growth and the server's write_bytes (/proc/<pid>/io) per second, the
latencies, and the datagrams the kernel dropped at the server's UDP sockets over the whole run
(/proc/net/udp: a full receive buffer loses pieces of keyframes, and with them the pictures
motion detection compares). The cameras, readers and subscriber share the machine: this
process's CPU is printed, so a saturated run shows. Deadlines everywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any

# Runs from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from bench.events.clients import HlsReader, MotionWatch
from bench.streams.clients import HOST
from bench.streams.run import FPS, Meter, online_cameras, percentile, server_process, wait_ready
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.video import DEFAULT_PROFILE, PROFILES, pattern_loop
from tests.integrations.mqtt.mosquitto import running_mosquitto

CSRF = {"AntiCSRF": "1"}
JOIN_TIMEOUT = 60.0  # every HLS reader has its first segments
MOTION_TIMEOUT = 30.0  # motion shown to MQTT ON, and motion stopped to OFF
QUIET_SECONDS = 2.0  # FAKECLOUD_MOTION_QUIET_SECONDS: short cycles (MQTT holds ON 10 s more)
SETTINGS = {
    "FAKECLOUD_MOTION_QUIET_SECONDS": str(QUIET_SECONDS),
    "FAKECLOUD_RECORD_PRE_SECONDS": "2",
    "FAKECLOUD_RECORD_POST_SECONDS": "2",
    "FAKECLOUD_RECORD_MIN_FREE_BYTES": str(64 << 20),
    # The detector's "motion start" lines, with their times, for the latency split.
    "FAKECLOUD_LOG_LEVEL": "info",
    "FAKECLOUD_LOG_FORMAT": "json",
}
DETECTED = re.compile(r"camera (\d+): motion start ")
Cycle = tuple[int, float, float]  # camera id, motion keyframe sent, MQTT ON arrived (loop clock)


def write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def udp_drops(pid: int) -> int:
    """Datagrams the kernel dropped at the process's UDP sockets (a full receive buffer)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[8:-1])
    dropped = 0
    for table in ("udp", "udp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                dropped += int(fields[-1])
    return dropped


def detections(server_log: Path, wall_minus_loop: float) -> dict[int, list[float]]:
    """Each camera's detector "motion start" times, on this process's loop clock."""
    found: dict[int, list[float]] = {}
    for line in server_log.read_text(errors="replace").splitlines():
        if ": motion start (" not in line:
            continue
        entry = json.loads(line)
        if matched := DETECTED.match(entry["message"]):
            wall = datetime.fromisoformat(entry["time"]).timestamp()
            found.setdefault(int(matched[1]), []).append(wall - wall_minus_loop)
    return found


def split(cycles: list[Cycle], detected: dict[int, list[float]]) -> list[tuple[float, float]]:
    """(keyframe -> detector, detector -> MQTT) in ms for each cycle whose start was logged."""
    pairs = []
    for camera_id, sent, on in cycles:
        # The log's times are whole milliseconds: allow one either side.
        starts = [t for t in detected.get(camera_id, []) if sent - 0.001 <= t <= on + 0.001]
        if starts:
            pairs.append(((starts[0] - sent) * 1000, (on - starts[0]) * 1000))
    return pairs


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.mp4") if path.is_file())


def motion_keyframe_sent(camera: SimulatedCamera, shown: float) -> float:
    """When the first frame showing motion went out: the sender asks for the moving loop at each
    keyframe (one a second, every FPS frames), so it is the first keyframe scheduled after
    `shown`, at streaming_since + index / FPS."""
    sender = camera.video_sender
    if sender is None or sender.streaming_since is None:
        raise RuntimeError(f"{camera} is not streaming")
    index = math.ceil((shown - sender.streaming_since) * FPS)
    keyframe = -(-index // FPS) * FPS
    return sender.streaming_since + keyframe / FPS


async def all_of(jobs: list[Awaitable[Any]], within: float, what: str) -> list[Any]:
    try:
        async with asyncio.timeout(within):
            return await asyncio.gather(*jobs)
    except TimeoutError:
        raise SystemExit(f"timed out ({within:g} s): {what}") from None


async def joined(readers: list[HlsReader], segments: int = 2) -> None:
    async with asyncio.timeout(JOIN_TIMEOUT):
        while any(reader.segments < segments for reader in readers):  # noqa: ASYNC110 - own state
            await asyncio.sleep(0.1)


async def motion_cycle(
    camera: SimulatedCamera, watch: MotionWatch, cycles: int, delay: float
) -> list[tuple[Cycle, float] | None]:
    """Each cycle and the ms from show_motion to MQTT ON, None for a cycle whose ON never
    came within MOTION_TIMEOUT."""
    loop = asyncio.get_running_loop()
    camera_id = camera.camera_id or 0
    await asyncio.sleep(delay)  # staggered start, so cameras do not move in step
    latencies: list[tuple[Cycle, float] | None] = []
    for _ in range(cycles):
        await camera.show_motion(True)
        shown = on = loop.time()
        try:
            on = await watch.next(camera_id, "ON", shown, MOTION_TIMEOUT)
        except TimeoutError:
            latencies.append(None)  # missed: counted, and the next cycle still runs
        else:
            sent = motion_keyframe_sent(camera, shown)
            latencies.append(((camera_id, sent, on), (on - shown) * 1000))
        await camera.show_motion(False)
        with contextlib.suppress(TimeoutError):
            await watch.next(camera_id, "OFF", on, MOTION_TIMEOUT)
    return latencies


async def run(args: argparse.Namespace) -> dict[str, Any]:
    count = args.cameras
    phases: dict[str, dict[str, float]] = {}
    await asyncio.to_thread(pattern_loop, PROFILES[DEFAULT_PROFILE], True)  # encoded once
    with tempfile.TemporaryDirectory(prefix="bench-events-") as folder:
        data_dir, broker_dir = Path(folder) / "data", Path(folder) / "mosquitto"
        data_dir.mkdir()
        broker_dir.mkdir()
        async with running_mosquitto(broker_dir) as broker:
            extra = SETTINGS | {"FAKECLOUD_MQTT_URL": broker.url}
            with server_process(data_dir, count, extra) as (process, ports):
                await wait_ready(process, ports["http"], data_dir / "server.log")
                meter = Meter(process.pid)
                drops_before = udp_drops(process.pid)
                wall_minus_loop = time.time() - asyncio.get_running_loop().time()
                watch = MotionWatch(broker.port)
                tasks = [asyncio.create_task(watch.run())]
                limits = httpx.Limits(max_connections=2 * count + 8)
                base = f"http://{HOST}:{ports['http']}"
                try:
                    async with (
                        online_cameras(count, ports["cloud"]) as cameras,
                        httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client,
                    ):
                        await all_of([watch.subscribed.wait()], 30, "MQTT subscription")

                        async def options(change: dict[str, Any]) -> None:
                            for camera in cameras:
                                url = f"/api/cameras/{camera.camera_id}/options"
                                answer = await client.patch(url, json=change, headers=CSRF)
                                answer.raise_for_status()

                        async def motion(on: bool, payload: str) -> int:
                            """Every camera shows motion (or stops); how many cameras' MQTT
                            `payload` never came within MOTION_TIMEOUT."""
                            since = asyncio.get_running_loop().time()
                            await asyncio.gather(*(c.show_motion(on) for c in cameras))
                            heard = await asyncio.gather(
                                *(watch.next(c.camera_id or 0, payload, since, MOTION_TIMEOUT)
                                  for c in cameras),
                                return_exceptions=True,
                            )  # fmt: skip
                            return sum(isinstance(answer, TimeoutError) for answer in heard)

                        readers = [HlsReader(camera.camera_id or 0) for camera in cameras]
                        tasks += [asyncio.create_task(reader.run(client)) for reader in readers]
                        await joined(readers)
                        phases["hls"] = await meter.window(args.settle, args.seconds)
                        await options({"motion_detection": True})
                        phases["detect"] = await meter.window(args.settle, args.seconds)
                        await options({"record": "motion"})
                        unheard = await motion(True, "ON")
                        recordings = data_dir / "recordings"
                        disk = (folder_bytes(recordings), write_bytes(process.pid))
                        phases["record"] = await meter.window(0, args.seconds)
                        grown = folder_bytes(recordings) - disk[0]
                        written = write_bytes(process.pid) - disk[1]
                        phases["record"] |= {
                            "folder": grown / args.seconds,
                            "write_bytes": written / args.seconds,
                        }
                        unheard += await motion(False, "OFF")
                        cycles = [
                            motion_cycle(camera, watch, args.cycles, random.uniform(0, 2))
                            for camera in cameras
                        ]
                        within = args.cycles * (2 * MOTION_TIMEOUT) + 20
                        per_camera = await all_of(cycles, within, "motion cycles")
                        dropped = udp_drops(process.pid) - drops_before
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                detected = detections(data_dir / "server.log", wall_minus_loop)
    cycles_run = [pair for camera in per_camera for pair in camera]
    done = [pair for pair in cycles_run if pair is not None]
    return {
        "phases": phases,
        "latencies": [((on - sent) * 1000, call) for (_, sent, on), call in done],
        "split": split([cycle for cycle, _ in done], detected),
        "missed": len(cycles_run) - len(done) + unheard,
        "udp_drops": dropped,
    }


def spread(values: list[float]) -> str:
    """p50/p99 in whole milliseconds."""
    if not values:
        return "n/a"
    return f"{statistics.median(values):.0f}/{percentile(values, 0.99):.0f}"


def report(count: int, result: dict[str, Any]) -> list[str]:
    phases, latencies, parts = result["phases"], result["latencies"], result["split"]
    per_camera = {name: 100 * phase["server"] / count for name, phase in phases.items()}
    hls = per_camera["hls"]
    detection = per_camera["detect"] - hls
    recording = per_camera["record"] - per_camera["detect"]
    record = phases["record"]
    bench = max(100 * phase["bench"] for phase in phases.values())
    lag = max(phase["lag"] for phase in phases.values())
    return [
        f"{'cameras':>7} {'HLS/cam':>8} {'detection/cam':>16} {'recording/cam':>16} "
        f"{'recordings KB/s':>15} {'write_bytes KB/s':>16} {'motion->MQTT p50/p99 ms':>24} "
        f"{'call->MQTT p50/p99 ms':>22} {'key->detector p50/p99':>22} "
        f"{'detector->MQTT p50/p99':>23} {'events':>6} {'missed':>6} {'UDP drops':>9} "
        f"{'bench CPU':>9} {'bench lag p99':>13}",
        f"{count:>7} {hls:>8.2f} {f'{detection:.2f} ({detection / hls:.2f}x)':>16} "
        f"{f'{recording:.2f} ({recording / hls:.2f}x)':>16} {record['folder'] / 1000:>15.1f} "
        f"{record['write_bytes'] / 1000:>16.1f} "
        f"{spread([keyframe for keyframe, _ in latencies]):>24} "
        f"{spread([call for _, call in latencies]):>22} "
        f"{spread([detect for detect, _ in parts]):>22} "
        f"{spread([deliver for _, deliver in parts]):>23} "
        f"{len(latencies):>6} {result['missed']:>6} {result['udp_drops']:>9} "
        f"{bench:>8.0f}% {lag:>10.1f} ms",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=50, help="simulated cameras")
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring window per phase")
    parser.add_argument("--settle", type=float, default=5.0, help="wait before each window")
    parser.add_argument("--cycles", type=int, default=2, help="motion on/off cycles per camera")
    args = parser.parse_args()
    print(
        f"H.264 1280x720 at {FPS} fps per camera; {args.seconds:g} s per phase; CPU in % of one "
        "core per camera, (x) = over the HLS passthrough reference; latency to MQTT motion ON"
    )
    result = asyncio.run(run(args))
    for line in report(args.cameras, result):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
