"""MJPEG viewer memory benchmark (run by hand): python bench/media/run.py [--viewers 90]

A server process (the hub, the media outputs and the real media routes on loopback, fed by
test-pattern H.264 cameras) serves N MJPEG viewers per camera over real HTTP for some seconds;
then the viewers hang up. Reported per design: the server's RSS before, with viewers and after
they left (after a settle and gc, and again after glibc's malloc_trim, which the shared design
runs by itself after a teardown), H.264 decoders open, its CPU while serving and the pictures
each viewer got. Designs: "shared" (fakecloud's, one
producer per camera) and "per-viewer" (the old design, one transcoder per viewer, kept here
only as the reference). Loopback only; every step is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import subprocess
import sys
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# Runs from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fastapi import FastAPI

from bench.process import cpu_seconds, rss_mib, stop_child
from fakecloud.core.memory import return_freed_memory
from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs import MediaOutputs
from fakecloud.media.outputs.mjpeg import BOUNDARY, Transcoder, multipart_part
from fakecloud.media.outputs.streaming import live_frames
from fakecloud.media.testpattern import TestPattern
from fakecloud.runtime import Services
from fakecloud.web import routes_media
from fakecloud.web.asgi import AsgiProtocolFactory

HOST = "127.0.0.1"
DESIGNS = ("shared", "per-viewer")
FPS = 15
LOOP_SECONDS = 2  # the pre-encoded pattern loop each camera replays
CHILD_LIFETIME = 600.0
PART_MARK = f"--{BOUNDARY}".encode()


# --- the server process ---------------------------------------------------------------------


class PerViewerOutputs(MediaOutputs):
    """The reference: the pre-sharing MJPEG path, one decoder and encoder per viewer."""

    open_decoders = 0

    async def _per_viewer(self, camera_id: int) -> AsyncGenerator[bytes, None]:
        loop = asyncio.get_running_loop()
        feeds = self.mjpeg_feeds
        transcoder = Transcoder(feeds.max_fps, feeds.qscale)
        PerViewerOutputs.open_decoders += 1
        try:
            async for frame in live_frames(self.hub, camera_id, self.limits):
                jpeg = await loop.run_in_executor(None, transcoder.convert, [frame])
                if jpeg is not None:
                    yield multipart_part(jpeg)
        finally:
            PerViewerOutputs.open_decoders -= 1

    def mjpeg(self, camera_id: int) -> AsyncGenerator[bytes, None]:
        return self._per_viewer(camera_id)


async def replay(hub: MediaHub, camera_id: int, loop_frames: list[MediaFrame]) -> None:
    """One camera: the pre-encoded loop at FPS with increasing timestamps, until cancelled."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index in range(int(CHILD_LIFETIME * FPS)):
        await asyncio.sleep(max(0.0, started + index / FPS - loop.time()))
        frame = loop_frames[index % len(loop_frames)]
        hub.publish(camera_id, dataclasses.replace(frame, timestamp=index / FPS))


async def serve(design: str, args: argparse.Namespace) -> None:
    pattern = TestPattern("h264", args.width, args.height, fps=FPS)
    loop_frames = list(pattern.frames(FPS * LOOP_SECONDS))
    cameras: dict[int, asyncio.Task[None]] = {}

    async def demand(camera_id: int) -> None:
        if camera_id not in cameras:
            cameras[camera_id] = asyncio.create_task(replay(hub, camera_id, loop_frames))

    async def release(camera_id: int) -> None:
        if task := cameras.pop(camera_id, None):
            task.cancel()

    hub = MediaHub(
        demand,
        release,
        linger=0.5,
        max_subscribers=args.viewers + 1,
        known_camera=lambda camera_id: 1 <= camera_id <= args.cameras,
    )
    kind = PerViewerOutputs if design == "per-viewer" else MediaOutputs
    outputs = kind(hub, video_timeout=10, idle_timeout=10)
    app = FastAPI()
    app.state.runtime = SimpleNamespace(services=Services(media_hub=hub, media_outputs=outputs))
    app.include_router(routes_media.router)

    @app.get("/bench/status")
    def status() -> dict[str, Any]:
        shared = outputs.mjpeg_feeds.decoders
        return {"decoders": shared + PerViewerOutputs.open_decoders, "cameras": len(cameras)}

    @app.post("/bench/settle")
    def settle(trim: bool = False) -> dict[str, Any]:
        gc.collect()
        if trim:  # what the shared design does by itself after a producer's teardown
            return_freed_memory()
        return {}

    protocols = AsgiProtocolFactory(app)
    server = await asyncio.get_running_loop().create_server(protocols, HOST, 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    # The parent closes our stdin when done; that, or the lifetime, ends the process.
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CHILD_LIFETIME):
            await reader.read()
    server.close()


# --- the measuring process ------------------------------------------------------------------


async def request(port: int, method: str, path: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode())
        async with asyncio.timeout(30):
            response = await reader.read()
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{method} {path}: {head[:80]!r}")
    result: dict[str, Any] = json.loads(body)
    return result


async def view(port: int, camera_id: int, stop: asyncio.Event) -> int:
    """One MJPEG viewer reading until `stop`; the number of pictures it got."""
    reader, writer = await asyncio.open_connection(HOST, port)
    parts = 0
    tail = b""
    try:
        path = f"/api/cameras/{camera_id}/stream.mjpeg"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        async with asyncio.timeout(60):
            while not stop.is_set():
                stopped = asyncio.ensure_future(stop.wait())
                reading = asyncio.ensure_future(reader.read(1 << 16))
                await asyncio.wait({stopped, reading}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if not reading.done():
                    reading.cancel()
                    break
                chunk = reading.result()
                if not chunk:
                    break
                data = tail + chunk
                parts += data.count(PART_MARK)
                tail = data[-len(PART_MARK) :]
    finally:
        writer.close()
    return parts


async def wait_for(port: int, condition: str, value: int, within: float) -> None:
    deadline = time.monotonic() + within
    while (await request(port, "GET", "/bench/status"))[condition] != value:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{condition} did not reach {value} within {within:g} s")
        await asyncio.sleep(0.2)  # polling a benchmark's server, not synchronising a test


async def measure(design: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--serve", design]
    command += ["--cameras", str(args.cameras), "--viewers", str(args.viewers)]
    command += ["--width", str(args.width), "--height", str(args.height)]
    child = await asyncio.create_subprocess_exec(
        *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        async with asyncio.timeout(120):  # pre-encoding the pattern loop
            port = int(await child.stdout.readline())
        await request(port, "POST", "/bench/settle")
        figures: dict[str, Any] = {"before": rss_mib(child.pid)}
        stop = asyncio.Event()
        viewers = [
            asyncio.create_task(view(port, camera_id, stop))
            for camera_id in range(1, args.cameras + 1)
            for _ in range(args.viewers)
        ]
        cpu = cpu_seconds(child.pid)
        await asyncio.sleep(args.seconds)  # the viewing window
        figures["cpu_percent"] = 100 * (cpu_seconds(child.pid) - cpu) / args.seconds
        figures["with_viewers"] = rss_mib(child.pid)
        figures["decoders"] = (await request(port, "GET", "/bench/status"))["decoders"]
        stop.set()
        pictures = await asyncio.gather(*viewers)
        figures["pictures_min"], figures["pictures_max"] = min(pictures), max(pictures)
        await wait_for(port, "decoders", 0, 30)
        await wait_for(port, "cameras", 0, 30)
        await asyncio.sleep(args.settle)
        await request(port, "POST", "/bench/settle")
        figures["after_gc"] = rss_mib(child.pid)
        await request(port, "POST", "/bench/settle?trim=true")
        figures["after_trim"] = rss_mib(child.pid)
        return figures
    finally:
        await stop_child(child)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--viewers", type=int, default=90, help="MJPEG viewers per camera")
    parser.add_argument("--seconds", type=float, default=5.0, help="viewing window")
    parser.add_argument("--settle", type=float, default=2.0, help="wait after viewers leave")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--design", choices=(*DESIGNS, "both"), default="both")
    parser.add_argument("--serve", choices=DESIGNS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args))
        return 0
    designs = DESIGNS if args.design == "both" else (args.design,)
    print(
        f"{args.cameras} cameras x {args.viewers} MJPEG viewers, {args.width}x{args.height} "
        f"H.264 at {FPS} fps, {args.seconds:g} s of viewing"
    )
    rows = [
        ("RSS before (MiB)", "{:.0f}", "before"),
        ("RSS with viewers (MiB)", "{:.0f}", "with_viewers"),
        ("RSS after, gc (MiB)", "{:.0f}", "after_gc"),
        ("RSS after, malloc_trim (MiB)", "{:.0f}", "after_trim"),
        ("H.264 decoders open", "{}", "decoders"),
        ("server CPU while viewing (%)", "{:.0f}", "cpu_percent"),
        ("pictures per viewer, min", "{}", "pictures_min"),
        ("pictures per viewer, max", "{}", "pictures_max"),
    ]
    results = {design: asyncio.run(measure(design, args)) for design in designs}
    print(f"{'':32}" + "".join(f"{design:>14}" for design in designs))
    for label, form, key in rows:
        print(f"{label:32}" + "".join(f"{form.format(results[d][key]):>14}" for d in designs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
