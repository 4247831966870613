"""Hostile-load benchmark (run by hand): the attacks of issue 8 section 9 against the whole server.

    python bench/hostile/run.py [--attacks cxnet-flood,...] [--attack-seconds 10]

`fakecloud serve` runs in a child process (temporary data folder, every port high and on
127.0.0.1, descriptor limit lowered to 1024 so the limit is reachable), with an owner account,
an access token and a second account made in its store first. The legitimate client, from
127.0.0.1, measures a camera login over TLS, a keepalive round trip on a logged-in session, a
DNS query over UDP and TCP, and an authenticated HTTP GET: first with no attack, then during each
attack (each in a process of its own, from its own 127.0.0.x addresses, bounded in time and
count; a `fakecloud sim camera` streams to the owner during the relay attack), then after it. One
table shows p50/p99 quiet and under attack, their ratio, p99 after the attack, the server's RSS
and open descriptors before, at peak and after, and whether it still runs. Loopback only; exits
non-zero if the server died. bench/hostile/README.md says what each attack does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

# Runs from a checkout without installing the package (this folder is on sys.path already).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from attacks import ATTACKS, Strength, attacker_process
from common import (
    MALLORY,
    MALLORY_PASSWORD,
    OWNER,
    OWNER_PASSWORD,
    SERVER,
    Busy,
    Counter,
    Target,
    busy_between,
    busy_counters,
    free_ports,
    http_request,
    process_figures,
)
from measures import LegitClient, Samples
from report import RSS_RETURN_SECONDS, Phase, print_report, rss_returned

from fakecloud.core.config import Settings
from fakecloud.sim.demo import simulated_mac
from fakecloud.store import Store

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
MONITOR_INTERVAL = 0.2
DESCRIPTOR_SLACK = 16
ATTACKER_FLAG = "--attacker-process"  # internal: run one attack in this process


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    target: Target
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def figures(self) -> tuple[float, int]:
        return process_figures(self.process.pid)


def prepare_data(data_dir: Path) -> str:
    """The owner's account and access token and Mallory's account, in the server's store."""
    data_dir.mkdir(parents=True)
    store = Store(Settings(data_dir=data_dir).database_path)
    try:
        store.add_account(OWNER, OWNER_PASSWORD)
        store.add_account(MALLORY, MALLORY_PASSWORD)
        return store.issue_token(OWNER)
    finally:
        store.close()


def without_settings() -> dict[str, str]:
    """This environment without FAKECLOUD_* settings: the bench chooses every one."""
    return {name: value for name, value in os.environ.items() if not name.startswith("FAKECLOUD_")}


def start_server(data_dir: Path, descriptor_limit: int, log: Path) -> Server:
    cxnet, http, dns, relay = free_ports(4)
    token = prepare_data(data_dir)
    environment = without_settings() | {
        "FAKECLOUD_DATA_DIR": str(data_dir),
        "FAKECLOUD_ANNOUNCE_ADDRESS": SERVER,
        "FAKECLOUD_BIND_ADDRESS": SERVER,
        "FAKECLOUD_CLOUD_PORTS": str(cxnet),
        "FAKECLOUD_HTTP_PORT": str(http),
        "FAKECLOUD_DNS_PORT": str(dns),
        "FAKECLOUD_RELAY_PORT": str(relay),
        "FAKECLOUD_BROKER_PORT": "0",
        # No upstream resolver is asked: the measured name is one of fakecloud's own.
        "FAKECLOUD_DNS_UPSTREAMS": "127.0.0.1:9",
        # Loopback is trusted by default; here every HTTP client must prove who it is, as on a LAN.
        "FAKECLOUD_TRUSTED_NETWORKS": "192.0.2.1/32",
    }

    def limit_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (descriptor_limit, descriptor_limit))

    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "fakecloud", "serve"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_descriptors,
        )
    return Server(process, Target(cxnet, http, dns, relay, token), log)


async def wait_ready(server: Server) -> None:
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            if not server.alive:
                raise SystemExit(f"the server exited at start:\n{server.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError, TimeoutError, ConnectionError):
                status, _ = await http_request(server.target.http_port, "GET", "/healthz")
                if status == 200:
                    _, writer = await asyncio.open_connection(SERVER, server.target.cxnet_port)
                    writer.close()
                    return
            await asyncio.sleep(0.2)  # polling a starting process: nothing to wait on


async def monitor(server: Server, peaks: list[float], stop: asyncio.Event) -> None:
    """Peak RSS and descriptors while an attack runs; `peaks` is [rss, descriptors]."""
    while not stop.is_set():
        rss, descriptors = server.figures()
        peaks[0], peaks[1] = max(peaks[0], rss), max(peaks[1], descriptors)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(MONITOR_INTERVAL):
                await stop.wait()


async def settle(server: Server, descriptors_before: int, seconds: float) -> None:
    """Wait (bounded) until the server's descriptors are back near where they were."""
    until = time.monotonic() + seconds
    while time.monotonic() < until and server.alive:
        if server.figures()[1] <= descriptors_before + DESCRIPTOR_SLACK:
            return
        await asyncio.sleep(MONITOR_INTERVAL)  # polling /proc: nothing to wait on


async def rss_back(server: Server, before: float, deadline: float) -> float:
    """The server's RSS once it is back near `before`, or at `deadline` (it collects and trims on
    a timer, so memory comes back some seconds after an attack ends)."""
    while True:
        rss = server.figures()[0]
        if rss_returned(before, rss) or time.monotonic() >= deadline or not server.alive:
            return rss
        await asyncio.sleep(MONITOR_INTERVAL)  # polling /proc: nothing to wait on


async def watch_stream(target: Target, camera_id: int, until: float, counter: Counter) -> None:
    """The owner watches the streaming camera's MJPEG during the relay attack."""
    with contextlib.suppress(OSError, TimeoutError, ConnectionError):
        async with asyncio.timeout(max(0.0, until - time.monotonic())):
            reader, writer = await asyncio.open_connection(SERVER, target.http_port)
            try:
                writer.write(
                    f"GET /api/cameras/{camera_id}/stream.mjpeg HTTP/1.1\r\nHost: {SERVER}\r\n"
                    f"Authorization: {target.bearer}\r\n\r\n".encode()
                )
                while data := await reader.read(65536):
                    counter.add("MJPEG bytes the owner received", len(data))
            finally:
                writer.transport.abort()


async def sampled_with_busy(
    server: Server, legit: LegitClient, args: argparse.Namespace, seconds: float | None = None
) -> tuple[dict[str, Samples], Busy]:
    """The legitimate measures, and how busy the server was meanwhile."""
    before, started = busy_counters(server.process.pid), time.monotonic()
    samples = await legit.sample_all(seconds or args.attack_seconds, args.samples)
    after = busy_counters(server.process.pid)
    return samples, busy_between(before, after, time.monotonic() - started)


async def run_attack(
    name: str, server: Server, legit: LegitClient, args: argparse.Namespace, camera_id: int | None
) -> Phase:
    phase = Phase(name)
    rss_before, fds_before = server.figures()
    log_before = server.log.stat().st_size
    peaks = [rss_before, float(fds_before)]
    stop = asyncio.Event()
    watcher = asyncio.create_task(monitor(server, peaks, stop))
    lasts = args.ramp_seconds + args.attack_seconds
    until = time.monotonic() + lasts
    attacker = await start_attacker(name, server.target, args.strength, lasts)
    ready = asyncio.create_task(read_attacker(attacker, phase.counter))
    stream = None
    if name == "relay-flood" and camera_id is not None:
        stream = asyncio.create_task(watch_stream(server.target, camera_id, until, phase.counter))
    try:
        await asyncio.wait({ready}, timeout=args.ramp_seconds)
        phase.during, phase.busy = await sampled_with_busy(server, legit, args)
        # The attacker ends by itself (its own deadline) and reports what it did.
        # (Its clock starts once it has started: a loaded machine takes seconds to start Python.)
        async with asyncio.timeout(max(0.0, until - time.monotonic()) + START_TIMEOUT):
            await attacker.wait()
            await ready
    finally:
        if attacker.returncode is None:
            attacker.kill()
            await attacker.wait()
        for task in (ready, stream):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        stop.set()
        await watcher
    ended = time.monotonic()
    await settle(server, fds_before, args.recovery_seconds)
    phase.after = await legit.sample_all(args.recovery_seconds, args.samples)
    rss_after = await rss_back(server, rss_before, ended + RSS_RETURN_SECONDS)
    phase.rss_back_seconds = time.monotonic() - ended
    fds_after = server.figures()[1]
    phase.rss = (rss_before, peaks[0], rss_after)
    phase.descriptors = (fds_before, int(peaks[1]), fds_after)
    phase.alive = server.alive
    phase.log_bytes = server.log.stat().st_size - log_before
    return phase


async def start_attacker(
    name: str, target: Target, strength: Strength, seconds: float
) -> asyncio.subprocess.Process:
    """The attack in its own process, so its CPU is not the legitimate client's."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        ATTACKER_FLAG,
        name,
        json.dumps(asdict(target)),
        json.dumps(asdict(strength)),
        repr(seconds),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )


async def read_attacker(attacker: asyncio.subprocess.Process, counter: Counter) -> None:
    """Returns when the attack is at full strength; keeps reading its report after that."""
    assert attacker.stdout is not None
    line = await attacker.stdout.readline()
    if line.strip() == b"ready":
        line = await attacker.stdout.readline()
    if line.strip():
        for key, value in json.loads(line).items():
            counter.add(key, value)


def attacker_main(argv: list[str]) -> int:
    name, target, strength, seconds = argv
    fields = json.loads(target)
    fields["stream_ids"] = tuple(tuple(ids) for ids in fields["stream_ids"])
    asyncio.run(
        attacker_process(name, Target(**fields), Strength(**json.loads(strength)), float(seconds))
    )
    return 0


def start_stream_camera(target: Target, log: Path) -> subprocess.Popen[bytes]:
    """The owner's camera that streams a test pattern when the owner watches it: `fakecloud sim
    camera` in a process of its own, so its video encoding is not the measuring client's CPU."""
    account = f"{OWNER}:{OWNER_PASSWORD}"
    command = ["sim", "camera", "--server", f"{SERVER}:{target.cxnet_port}", "--tls"]
    command += ["--account", account, "--relay-host", SERVER]
    with log.open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "fakecloud", *command],
            env=without_settings(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


async def stream_camera_id(target: Target) -> int:
    """The simulated camera's id, once it has logged in."""
    headers = {"Authorization": target.bearer}
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            _, body = await http_request(target.http_port, "GET", "/api/cameras", headers=headers)
            for camera in json.loads(body or b"[]"):
                if camera["mac"] == simulated_mac(0) and camera["online"]:
                    return int(camera["id"])
            await asyncio.sleep(0.2)  # polling another process's login: nothing to wait on


async def bench(server: Server, args: argparse.Namespace) -> list[Phase]:
    await wait_ready(server)
    camera = start_stream_camera(server.target, server.log.with_name("camera.log"))
    legit = LegitClient(server.target)
    try:
        cid = await stream_camera_id(server.target)
        # K's REGISTER ids name the camera id twice, R's name the viewer's alias and the camera.
        server.target = replace(
            server.target, stream_ids=((f"V_{cid}", f"V_{cid}"), (f"V_{OWNER}", f"V_{cid}"))
        )
        legit.target = server.target
        await legit.prepare()
        quiet, quiet_busy = await sampled_with_busy(server, legit, args, args.quiet_seconds)
        phases = []
        for name in args.attacks:
            print(f"... {name}", file=sys.stderr, flush=True)
            phases.append(await run_attack(name, server, legit, args, cid))
            if not server.alive:
                break
    finally:
        legit.close()
        stop_process(camera)
    print_report(quiet, quiet_busy, phases)
    return phases


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--attacks",
        default=",".join(ATTACKS),
        help=f"comma-separated, run in this order (default: all: {','.join(ATTACKS)})",
    )
    parser.add_argument("--quiet-seconds", type=float, default=10.0)
    parser.add_argument("--attack-seconds", type=float, default=10.0, help="measured per attack")
    parser.add_argument("--ramp-seconds", type=float, default=10.0, help="longest build-up")
    parser.add_argument("--recovery-seconds", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=200, help="most samples per measure")
    parser.add_argument("--flood-rate", type=float, default=40.0, help="wrong logins per second")
    parser.add_argument("--held", type=int, default=1200, help="connections to hold")
    parser.add_argument("--dns-tcp", type=int, default=300, help="DNS TCP connections to hold")
    parser.add_argument("--relay-rate", type=float, default=2000.0, help="relay datagrams/s")
    parser.add_argument("--descriptor-limit", type=int, default=1024, help="the server's")
    parser.add_argument(
        "--server-log", type=Path, help="keep the server's log here (default: thrown away)"
    )
    args = parser.parse_args()
    args.attacks = [name.strip() for name in args.attacks.split(",") if name.strip()]
    unknown = [name for name in args.attacks if name not in ATTACKS]
    if unknown:
        parser.error(f"unknown attacks {unknown}; known: {', '.join(ATTACKS)}")
    for option in ("quiet_seconds", "attack_seconds", "ramp_seconds", "recovery_seconds"):
        if not 0 < getattr(args, option) <= 300:
            parser.error(f"--{option.replace('_', '-')} must be in (0, 300]")
    if not 1 <= args.samples <= 10_000 or not 64 <= args.descriptor_limit <= 65536:
        parser.error("--samples must be in 1..10000, --descriptor-limit in 64..65536")
    args.strength = Strength(
        flood_rate=min(args.flood_rate, 1000.0),
        held=min(args.held, 20_000),
        dns_tcp_connections=min(args.dns_tcp, 5000),
        relay_packets_per_second=min(args.relay_rate, 50_000.0),
    )
    return args


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


def main() -> int:
    # The attackers' sockets are descriptors of the bench's processes.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if sys.argv[1:2] == [ATTACKER_FLAG]:
        return attacker_main(sys.argv[2:])
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = args.server_log or Path(folder) / "server.log"
        server = start_server(Path(folder) / "data", args.descriptor_limit, log)
        try:
            budget = START_TIMEOUT + 600.0  # the whole run, whatever happens
            asyncio.run(asyncio.wait_for(bench(server, args), budget))
            alive = server.alive
        finally:
            stop_process(server.process)
    if not alive:
        print(f"the server died (exit code {server.process.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
