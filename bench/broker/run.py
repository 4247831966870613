"""Broker benchmark (run by hand): N simulated cameras against the broker and, in the same run,
against a minimal CXNet responder as the reference; each server in its own process pinned to
one CPU, the load on the other CPUs when there are any.

    python bench/broker/run.py [--cameras 2000] [--login-rate 500] [--keepalive 30] [--window 30]
                               [--busy] [--reconnect] [--timeline]

Both servers get the same phases: cameras log in at a steady rate (login latency p50/p99 and
RSS per session), then only keepalives flow for a window (the server's CPU share), then one
app sends commands to the cameras one after another (round trips per second). The figures are
printed side by side with the ratio broker/reference. The reference (ReferenceResponder) frames
with the project's codec and does only what these clients need: a fixed login reply, keepalive
answers, commands passed between an app and a camera; no store, session bookkeeping, capture or
policy. The broker runs with its store and capture log, as `fakecloud serve` does. Loopback
only; every phase has a deadline. `--busy` keeps another process burning CPU for the whole run
(unpinned, as any busy neighbour on the machine would be). `--reconnect`: the store knows every
camera before the storm (after a power cut they reconnect; without it each one logs in for the
first time and the broker creates its record).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from asyncio import StreamReader, StreamWriter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Runs from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.process import cpu_seconds, rss_bytes
from fakecloud.broker import Broker
from fakecloud.capture.log import CaptureLog
from fakecloud.core.collector import settle_startup_objects
from fakecloud.core.config import Settings
from fakecloud.core.memory import keep_returning_memory
from fakecloud.frontdoor.connection_info import ConnectionInfo
from fakecloud.net.cxnet import Action, CXNetError, Frame, FrameDecoder, encode_frame
from fakecloud.net.properties import PropertiesError, encode_properties, parse_properties
from fakecloud.sim.app import SimulatedApp
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.demo import demo_cameras, simulated_mac
from fakecloud.store import AsyncStore, Store

LOGIN, PASSWORD = "bench", "bench password"
SERVERS = ("reference", "broker")
HOST = "127.0.0.1"
# A server process ends by itself after this long, whatever the parent does.
SERVER_LIFETIME = 300.0
LOGIN_DEADLINE = 120.0
APP_DEADLINE = 30.0
STOP_DEADLINE = 30.0
READ_CHUNK = 64 * 1024
COMMAND = "modify-device|0|FPS=10|"


@contextlib.contextmanager
def cpu_burner(enabled: bool) -> Iterator[None]:
    """Another process busy on the machine while the figures are taken."""
    if not enabled:
        yield
        return
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        burner.kill()
        burner.wait(timeout=STOP_DEADLINE)


def raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the reference responder --------------------------------------------------------------------

# One fixed session block for every client (the simulators reuse whatever the reply carries).
REFERENCE_SESSION = b"fakecloud-bench!"
KEEPALIVE_ANSWER = encode_frame(Frame(action=Action.KEEPALIVE, session=REFERENCE_SESSION))
NO_SUCH_CAMERA = encode_frame(
    Frame(
        action=Action.ERROR,
        session=REFERENCE_SESSION,
        body=encode_properties({"error": "offline", "reason": "no such camera"}),
    )
)


@dataclass(slots=True, eq=False)
class _Peer:
    writer: StreamWriter
    camera_id: int | None = None  # set when it logged in as a camera
    asker: StreamWriter | None = None  # the app that last sent this camera a command


class ReferenceResponder:
    """The least a CXNet server does for the simulators.

    Framing by fakecloud.net.cxnet. Login (519): a fixed reply, `sid` and `session-id` (what
    the app checks) plus, for a login that names a `mac`, a numbered `device-id` (what a
    SimulatedCamera reads, and what commands address it by). Keepalive (526): the 526 answer.
    Command (411): from an app, forwarded to the camera named in CX_DSTID; from a camera,
    forwarded to the app that last sent it one. Nothing else is read, kept or checked.
    """

    def __init__(self) -> None:
        self.cameras: dict[int, _Peer] = {}
        self.logins = 0

    async def handle(self, reader: StreamReader, writer: StreamWriter) -> None:
        decoder = FrameDecoder()
        peer = _Peer(writer)
        try:
            while data := await reader.read(READ_CHUNK):
                for frame in decoder.feed(data):
                    self._dispatch(peer, frame)
        except (CXNetError, PropertiesError, ConnectionError, OSError):
            pass
        finally:
            if peer.camera_id is not None and self.cameras.get(peer.camera_id) is peer:
                del self.cameras[peer.camera_id]
            writer.close()

    def _dispatch(self, peer: _Peer, frame: Frame) -> None:
        if frame.action == Action.KEEPALIVE:
            peer.writer.write(KEEPALIVE_ANSWER)
        elif frame.action == Action.COMMAND:
            if peer.camera_id is not None:
                if peer.asker is not None and not peer.asker.is_closing():
                    peer.asker.write(encode_frame(frame))
            else:
                self._to_camera(peer, frame)
        elif frame.action == Action.LOGIN:
            peer.writer.write(self._login_reply(peer, frame))

    def _login_reply(self, peer: _Peer, frame: Frame) -> bytes:
        self.logins += 1
        reply = {"sid": REFERENCE_SESSION.hex(), "session-id": REFERENCE_SESSION.hex()}
        if "mac" in parse_properties(frame.options):
            peer.camera_id = self.logins
            self.cameras[peer.camera_id] = peer
            reply["device-id"] = str(peer.camera_id)
        body = encode_properties(reply)
        return encode_frame(Frame(action=Action.LOGIN, session=REFERENCE_SESSION, body=body))

    def _to_camera(self, app: _Peer, frame: Frame) -> None:
        destination = parse_properties(frame.options).get("CX_DSTID") or ""
        head = destination.split(":", 1)[0]
        camera = self.cameras.get(int(head)) if head.isdigit() else None
        if camera is None or camera.writer.is_closing():
            app.writer.write(NO_SUCH_CAMERA)
            return
        camera.asker = app.writer
        camera.writer.write(encode_frame(frame))


# -- the server processes -----------------------------------------------------------------------


def prepare_store(data_dir: Path, known_cameras: int) -> tuple[Settings, Store]:
    # One app sends commands back to back (thousands a second): its session is measured for
    # throughput, not held to the per-session frame rate a real app never reaches.
    # broker_port 0: a redirect names the one port this bench listens on.
    settings = Settings(
        data_dir=data_dir,
        announce_address=HOST,
        relay_port=6178,
        session_frame_rate=1e6,
        broker_port=0,
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_path)
    store.add_account(LOGIN, PASSWORD)
    for index in range(known_cameras):  # as the fleet's cameras log in (fakecloud/sim/camera.py)
        mac = simulated_mac(index)
        store.upsert_camera(mac=mac, reported_alias="oc9:" + mac.replace(":", ""), owner=LOGIN)
    return settings, store


async def until_stdin_closes() -> None:
    """The parent closes our stdin to stop us."""
    reader = StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()


def broker_handler(broker: Broker) -> Callable[[StreamReader, StreamWriter], Awaitable[None]]:
    """Connections straight to the broker, as the front door hands them over."""
    sequence = 0

    async def handle(reader: StreamReader, writer: StreamWriter) -> None:
        nonlocal sequence
        sequence += 1
        host, port = writer.get_extra_info("peername")[:2]
        local_port = writer.get_extra_info("sockname")[1]
        info = ConnectionInfo(f"b{sequence}", (host, port), local_port, False, None)
        await broker.handle_connection(reader, writer, info)

    return handle


async def serve(kind: str, data_dir: Path, known_cameras: int) -> None:
    broker: Broker | None = None
    if kind == "broker":
        settings, store = prepare_store(data_dir, known_cameras)
        async_store = AsyncStore(store)
        # With the capture log, as `fakecloud serve` runs it: it records every camera login.
        capture = CaptureLog(
            settings.captures_dir,
            settings.capture_max_bytes,
            min_free_bytes=settings.capture_min_free_bytes,
        )
        broker = Broker(settings, async_store, capture)
        await broker.start()
        settle_startup_objects()  # as `fakecloud serve` does once its parts have started
        keep_returning_memory()  # and its timer: old garbage collected, freed memory returned
        handle = broker_handler(broker)
    else:
        handle = ReferenceResponder().handle
    server = await asyncio.start_server(handle, HOST, 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SERVER_LIFETIME):
            await until_stdin_closes()
    server.close()
    if broker is not None:
        checkpointer = async_store.checkpointer
        writes = {
            **broker.status()["store_writes"],
            "checkpoints": checkpointer.checkpoints,
            "truncations": checkpointer.truncations,
        }
        await broker.stop()
        # How the grouped writes went (docs/store.md, Grouped writes): on stderr, for the record.
        print(f"broker store writes: {writes}", file=sys.stderr, flush=True)


# -- the load -----------------------------------------------------------------------------------


@dataclass
class Figures:
    login_seconds: float
    login_p50_ms: float
    login_p99_ms: float
    login_max_ms: float
    login_cpu_ms: float  # the server's CPU time per login during the login phase
    rss_per_session_kib: float
    cpu_percent: float
    round_trips_per_second: float
    round_trips: int
    refused: int


async def log_in(
    fleet: list[SimulatedCamera], rate: float, tasks: list[asyncio.Task[None]]
) -> None:
    """Start the cameras (their tasks go to `tasks`) at a steady rate, as after a power cut with
    staggered Wi-Fi joins, and wait until every one has logged in."""
    started = time.perf_counter()
    async with asyncio.timeout(LOGIN_DEADLINE):
        for index, camera in enumerate(fleet):
            await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(camera.run()))
        for camera, task in zip(fleet, tasks, strict=True):
            waiter = asyncio.create_task(camera.logged_in.wait())
            await asyncio.wait((waiter, task), return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not camera.logged_in.is_set():
                raise SystemExit(f"{camera.mac} stopped before logging in: {task.exception()!r}")


def p99(ordered: list[float]) -> float:
    """The 99th percentile of sorted values (the largest when there are fewer than 100)."""
    return ordered[int(len(ordered) * 0.99) - 1]


def print_timeline(kind: str, fleet: list[SimulatedCamera], rate: float) -> None:
    """Login latency by when in the storm the login started (half-second steps): tells a
    slow start (the first password check) from a queue that builds up."""
    step = max(1, int(rate / 2))
    print(f"{kind}: login latency by start time (p50 / p99 / max ms)", file=sys.stderr)
    for first in range(0, len(fleet), step):
        part = sorted(camera.last_login_seconds or 0.0 for camera in fleet[first : first + step])
        print(
            f"  {first / rate:5.1f} s  {statistics.median(part) * 1000:7.1f} "
            f"{p99(part) * 1000:7.1f} {part[-1] * 1000:7.1f}",
            file=sys.stderr,
        )


async def command_round_trips(
    port: int, targets: list[str], seconds: float
) -> tuple[int, int, float]:
    """(answered, refused, seconds taken): commands from one app, one after another."""
    app = SimulatedApp(HOST, port, login=LOGIN, password=PASSWORD)
    async with asyncio.timeout(APP_DEADLINE):
        await app.login()
    answered = refused = 0
    started = time.perf_counter()
    deadline = started + seconds
    try:
        while time.perf_counter() < deadline:
            reply = await app.command(targets[(answered + refused) % len(targets)], COMMAND)
            if reply.action == Action.ERROR:
                refused += 1
            else:
                answered += 1
    finally:
        elapsed = time.perf_counter() - started
        await app.close()
    return answered, refused, elapsed


async def rss_halfway(
    pid: int, fleet: list[SimulatedCamera], started: list[asyncio.Task[None]]
) -> tuple[int, int]:
    """The server's RSS once the first half of the fleet has logged in, and how many cameras
    had not even started then."""
    for camera in fleet[: len(fleet) // 2]:
        await camera.logged_in.wait()
    return rss_bytes(pid), len(fleet) - len(started)


async def load(kind: str, pid: int, port: int, args: argparse.Namespace) -> Figures:
    fleet = demo_cameras(
        HOST, port, LOGIN, PASSWORD, args.cameras, keepalive_interval=args.keepalive
    )
    # RSS per session is the growth over the second half of the logins: the first half absorbs
    # one-off costs (the broker keeps ~16 MiB after its first scrypt verification).
    tasks: list[asyncio.Task[None]] = []
    halfway = asyncio.create_task(rss_halfway(pid, fleet, tasks))
    started, cpu_before = time.perf_counter(), cpu_seconds(pid)
    try:
        await log_in(fleet, args.login_rate, tasks)
        login_seconds = time.perf_counter() - started
        login_cpu_ms = (cpu_seconds(pid) - cpu_before) / args.cameras * 1000
        rss_half, later = await halfway
        rss_per_session = (rss_bytes(pid) - rss_half) / 1024 / max(later, 1)
        if later < args.cameras // 4:
            rss_per_session = math.nan  # a burst: too few logins came after the halfway sample
        latencies = sorted(camera.last_login_seconds or 0.0 for camera in fleet)
        if args.timeline:
            print_timeline(kind, fleet, args.login_rate)

        cpu_start, wall_start = cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(args.window)  # only keepalives flow now
        cpu = (cpu_seconds(pid) - cpu_start) / (time.perf_counter() - wall_start) * 100

        targets = [f"{camera.camera_id}:{camera.mac}" for camera in fleet]
        answered, refused, commands_seconds = await command_round_trips(
            port, targets, args.commands_for
        )
    finally:
        halfway.cancel()
        for camera in fleet:
            camera.stop()
        try:
            async with asyncio.timeout(STOP_DEADLINE):
                await asyncio.gather(*tasks, return_exceptions=True)
        except TimeoutError:
            for task in tasks:
                task.cancel()
    figures = Figures(
        login_seconds=login_seconds,
        login_p50_ms=statistics.median(latencies) * 1000,
        login_p99_ms=p99(latencies) * 1000,
        login_max_ms=latencies[-1] * 1000,
        login_cpu_ms=login_cpu_ms,
        rss_per_session_kib=rss_per_session,
        cpu_percent=cpu,
        round_trips_per_second=answered / commands_seconds,
        round_trips=answered,
        refused=refused,
    )
    print(
        f"{kind}: {args.cameras} cameras logged in within {figures.login_seconds:.1f} s "
        f"(paced at {args.login_rate:g}/s), slowest login {figures.login_max_ms:.1f} ms; "
        f"{answered} command round trips, {refused} refused",
        flush=True,
    )
    return figures


def run_server(kind: str, cpu: int, args: argparse.Namespace) -> Figures:
    with tempfile.TemporaryDirectory() as data_dir:
        server = subprocess.Popen(
            [
                *(sys.executable, __file__, "--serve", kind, "--cpu", str(cpu)),
                *("--data-dir", data_dir, "--known", str(args.cameras if args.reconnect else 0)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            return asyncio.run(load(kind, server.pid, port, args))
        finally:
            assert server.stdin is not None
            server.stdin.close()
            try:
                server.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=STOP_DEADLINE)


def show(value: float, number: str) -> str:
    return "n/a" if math.isnan(value) else number.format(value)


def ratio(broker: float, reference: float) -> str:
    return "n/a" if math.isnan(broker) or not reference > 0 else f"{broker / reference:.2f}x"


def print_table(results: dict[str, Figures]) -> None:
    broker, reference = results["broker"], results["reference"]
    rows = [
        ("login latency p50 (ms)", "{:.1f}", "login_p50_ms"),
        ("login latency p99 (ms)", "{:.1f}", "login_p99_ms"),
        ("server CPU per login (ms)", "{:.2f}", "login_cpu_ms"),
        ("CPU, keepalives only (% of a core)", "{:.2f}", "cpu_percent"),
        ("command round trips per second", "{:.0f}", "round_trips_per_second"),
        ("RSS per session (KiB)", "{:.1f}", "rss_per_session_kib"),
    ]
    print(f"{'figure':<36} {'broker':>10} {'reference':>10} {'broker/reference':>17}")
    for label, number, field in rows:
        mine, theirs = getattr(broker, field), getattr(reference, field)
        print(
            f"{label:<36} {show(mine, number):>10} {show(theirs, number):>10} "
            f"{ratio(mine, theirs):>17}"
        )
    met = broker.login_p99_ms < 50 and broker.cpu_percent < 20
    print("broker targets (login p99 < 50 ms, CPU < 20 %):", "met" if met else "MISSED")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=2000)
    parser.add_argument("--login-rate", type=float, default=500.0, help="logins per second")
    parser.add_argument("--keepalive", type=float, default=30.0, help="seconds between keepalives")
    parser.add_argument("--window", type=float, default=30.0, help="seconds of keepalive load")
    parser.add_argument("--commands-for", type=float, default=5.0, help="seconds of commands")
    parser.add_argument("--busy", action="store_true", help="burn CPU in another process")
    parser.add_argument(
        "--reconnect", action="store_true", help="the cameras are known before (a power cut)"
    )
    parser.add_argument(
        "--timeline", action="store_true", help="login latency by start time, on stderr"
    )
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--known", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cameras < 1 or args.login_rate <= 0 or args.keepalive <= 0:
        parser.error("--cameras, --login-rate and --keepalive must be positive")
    raise_file_limit()
    if args.serve:
        os.sched_setaffinity(0, {args.cpu})
        asyncio.run(serve(args.serve, args.data_dir, args.known))
        return 0
    args.window = min(args.window, 60.0)
    args.commands_for = min(args.commands_for, 30.0)
    # The servers get one CPU; the load (this process) keeps the others when there are any.
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[0]
    if len(cpus) > 1:
        os.sched_setaffinity(0, cpus[1:])
    with cpu_burner(args.busy):
        results = {kind: run_server(kind, server_cpu, args) for kind in SERVERS}
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
