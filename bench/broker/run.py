"""Broker benchmark (run by hand): N simulated cameras against a broker pinned to one CPU.

    python bench/broker/run.py [--cameras 2000] [--login-rate 500] [--window 30]

Prints login p50/p99, the broker's CPU share while only keepalives flow, command round trips
per second and RSS per session. Loopback only; every phase has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fakecloud.broker import Broker
from fakecloud.core.config import Settings
from fakecloud.frontdoor.connection import ConnectionInfo
from fakecloud.sim.app import SimulatedApp
from fakecloud.sim.demo import demo_cameras
from fakecloud.store import AsyncStore, Store

LOGIN, PASSWORD = "bench", "bench password"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the broker process -------------------------------------------------------------------------


def prepare_store(data_dir: Path) -> tuple[Settings, Store]:
    settings = Settings(data_dir=data_dir, announce_address="127.0.0.1", relay_port=6178)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_path)
    store.add_account(LOGIN, PASSWORD)
    return settings, store


async def serve(settings: Settings, store: Store) -> None:
    broker = Broker(settings, AsyncStore(store), None)
    await broker.start()
    sequence = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sequence
        sequence += 1
        host, port = writer.get_extra_info("peername")[:2]
        local_port = writer.get_extra_info("sockname")[1]
        await broker.handle_connection(
            reader, writer, ConnectionInfo(f"b{sequence}", (host, port), local_port, False, None)
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    # The parent closes our stdin to stop us.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()
    await broker.stop()


# -- the load process ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def load(
    pid: int, port: int, cameras: int, login_rate: float, window: float, commands_for: float
) -> None:
    rss_before = rss_bytes(pid)
    fleet = demo_cameras("127.0.0.1", port, LOGIN, PASSWORD, cameras, keepalive_interval=30.0)
    started = time.perf_counter()
    tasks = []
    for index, camera in enumerate(fleet):
        # Cameras come up at a steady rate, as after a power cut with staggered Wi-Fi joins.
        await asyncio.sleep(max(0.0, started + index / login_rate - time.perf_counter()))
        tasks.append(asyncio.create_task(camera.run()))
    async with asyncio.timeout(120):
        for camera in fleet:
            await camera.logged_in.wait()
    elapsed = time.perf_counter() - started
    print(f"{cameras} cameras logged in within {elapsed:.1f} s (paced at {login_rate:g}/s)")
    latencies = sorted(camera.last_login_seconds or 0.0 for camera in fleet)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"login latency p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 < 50 ms)")
    print(f"RSS per session {(rss_bytes(pid) - rss_before) / cameras / 1024:.1f} KiB")

    cpu_start, wall_start = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(window)  # only keepalives flow now
    cpu = (cpu_seconds(pid) - cpu_start) / (time.perf_counter() - wall_start) * 100
    print(f"broker CPU with keepalives every 30 s: {cpu:.1f} % of one core (target < 20 %)")

    app = SimulatedApp("127.0.0.1", port, login=LOGIN, password=PASSWORD)
    await app.login()
    targets = [entry.destination for entry in app.cameras]
    done = 0
    deadline = time.perf_counter() + commands_for
    while time.perf_counter() < deadline:
        await app.command(targets[done % len(targets)], "modify-device|0|FPS=10|")
        done += 1
    await app.close()
    print(f"command round trips: {done / commands_for:.0f} per second (one app, sequential)")
    for camera in fleet:
        camera.stop()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=2000)
    parser.add_argument("--login-rate", type=float, default=500.0, help="logins per second")
    parser.add_argument("--window", type=float, default=30.0, help="seconds of keepalive load")
    parser.add_argument("--commands-for", type=float, default=5.0)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_file_limit()
    if args.serve:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        asyncio.run(serve(*prepare_store(args.serve)))
        return 0
    with tempfile.TemporaryDirectory() as data_dir:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", data_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            asyncio.run(
                load(
                    server.pid,
                    port,
                    args.cameras,
                    args.login_rate,
                    args.window,
                    args.commands_for,
                )
            )
        finally:
            assert server.stdin is not None
            server.stdin.close()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
