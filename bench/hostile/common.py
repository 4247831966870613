"""What the legitimate client and the attackers share: the server's addresses, frames, timing."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.process import cpu_seconds
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import encode_properties
from fakecloud.sim import CxnetLink, client_tls_context

SERVER = "127.0.0.1"  # the server binds here; the legitimate client comes from here too
OWNER, OWNER_PASSWORD = "owner", "owner password 1"
# A second account: the keepalive spammer holds a session of its own, as a LAN client could.
MALLORY, MALLORY_PASSWORD = "mallory", "mallory password 1"
LOGIN_MAC = "EC:1A:59:00:00:01"  # logs in again and again (the login measure)
KEEPALIVE_MAC = "EC:1A:59:00:00:02"  # stays logged in (the keepalive measure)
MALLORY_MAC = "EC:1A:59:00:00:66"
DNS_NAME = "server.seedonk.com"
# Any one exchange of the legitimate client or an attacker.
EXCHANGE_TIMEOUT = 10.0
READ_CHUNK = 64 * 1024
MAX_BODY = 1 << 20
NETCAM_FRAME = {"version": 3, "service": 121, "crypto": 0}
TLS = client_tls_context()


@dataclass(frozen=True)
class Target:
    """Where the server listens (all on SERVER) and the credentials the bench created."""

    cxnet_port: int  # a cloud port: TLS or plain, sniffed
    http_port: int
    dns_port: int
    relay_port: int
    token: str  # the owner's access token, for the HTTP measure
    # The REGISTER ids of the camera that streams during the relay attack (K's and R's forms).
    stream_ids: tuple[tuple[str, str], ...] = ()

    @property
    def bearer(self) -> str:
        return f"Bearer {self.token}"


def attacker_address(index: int) -> str:
    """127.0.0.<index>: each attack comes from its own addresses, never 127.0.0.1."""
    if not 2 <= index <= 254:
        raise ValueError(f"attacker address index {index} is outside 2..254")
    return f"127.0.0.{index}"


def free_ports(count: int) -> list[int]:
    """Ports free for both TCP and UDP on SERVER now (the child binds them a moment later)."""
    ports: list[int] = []
    with contextlib.ExitStack() as stack:
        while len(ports) < count:
            tcp = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            tcp.bind((SERVER, 0))
            port = tcp.getsockname()[1]
            udp = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            with contextlib.suppress(OSError):
                udp.bind((SERVER, port))
                ports.append(port)
    return ports


def login_frame(login: str | None, password: str | None, mac: str) -> Frame:
    """A camera login as the simulator sends it (fakecloud/sim/camera.py)."""
    properties = {"CX_UNAME": login, "CX_PASSWD": password} if login and password else {}
    properties |= {"mac": mac, "alias": "oc9:" + mac.replace(":", ""), "client_type": "bench"}
    return Frame(action=Action.LOGIN, options=encode_properties(properties), **NETCAM_FRAME)


def keepalive_frame(session: bytes) -> Frame:
    return Frame(action=Action.KEEPALIVE, session=session, **NETCAM_FRAME)


class Link(CxnetLink):
    """A CXNet connection (TLS) from a chosen source address; its streams stay reachable for
    the keepalive spammer, which writes faster than frame by frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, source: str = SERVER) -> Link:
        async with asyncio.timeout(EXCHANGE_TIMEOUT):
            reader, writer = await asyncio.open_connection(
                SERVER, port, ssl=TLS, local_addr=(source, 0)
            )
        return cls(reader, writer)

    async def login(self, frame: Frame) -> Frame:
        async with asyncio.timeout(EXCHANGE_TIMEOUT):
            await self.send(frame)
            return await self.receive()


async def one_login(port: int, frame: Frame, source: str = SERVER) -> Frame:
    """Connect, log in, hang up (no TLS close_notify wait: the bench never lingers)."""
    link = await Link.connect(port, source)
    try:
        return await link.login(frame)
    finally:
        link.abort()


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


async def http_request(
    port: int,
    method: str,
    path: str,
    *,
    source: str = SERVER,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a fresh connection: the status code and the body (at most
    MAX_BODY bytes; what comes after is read and dropped)."""
    async with asyncio.timeout(EXCHANGE_TIMEOUT):
        reader, writer = await asyncio.open_connection(SERVER, port, local_addr=(source, 0))
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {SERVER}:{port}", "Connection: close"]
            head += [f"{name}: {value}" for name, value in (headers or {}).items()]
            head.append(f"Content-Length: {len(body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            status_line = await reader.readline()
            parts = status_line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise ConnectionError(f"no HTTP answer: {status_line[:60]!r}")
            answer = bytearray()
            while data := await reader.read(READ_CHUNK):
                answer += data[: max(0, MAX_BODY - len(answer))]
            return int(parts[1]), bytes(answer).partition(b"\r\n\r\n")[2]
        finally:
            writer.transport.abort()


@dataclass
class Counter:
    """What an attack did, for the notes under the table."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount

    def most(self, name: str, value: int) -> None:
        self.counts[name] = max(self.counts.get(name, value), value)

    def __str__(self) -> str:
        return ", ".join(f"{name} {value}" for name, value in self.counts.items()) or "nothing"


async def paced(
    rate: float,
    until: float,
    one: Callable[[int], Awaitable[None]],
    *,
    in_flight: int = 256,
) -> None:
    """Start `one(n)` `rate` times a second until the monotonic time `until`, at most `in_flight`
    at once (a bounded attacker); wait for the last ones with their own timeouts."""
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    sent = 0
    while (now := time.monotonic()) < until:
        if len(tasks) < in_flight:
            task = asyncio.create_task(one(sent))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        # A schedule, not a synchronisation: the attacker's pace.
        await asyncio.sleep(max(0.0, started + sent / rate - now))
    if tasks:
        await asyncio.wait(tasks, timeout=EXCHANGE_TIMEOUT + 1)
        for task in tasks:
            task.cancel()


@dataclass(frozen=True)
class Busy:
    """How the server spent a stretch of time, in % of it: the whole process's CPU, and its
    event loop thread running or runnable but waiting for a CPU. A loop neither running nor
    waiting was idle or blocked (a lock, a disk); one waiting a lot was starved by the machine."""

    cpu: float = math.nan
    loop_running: float = math.nan
    loop_waiting: float = math.nan

    def __str__(self) -> str:
        return (
            f"server CPU {self.cpu:.0f} % of a core, event loop running {self.loop_running:.0f} %"
            f" and waiting for a CPU {self.loop_waiting:.0f} %"
        )


def busy_counters(pid: int) -> tuple[float, float, float]:
    """(process CPU seconds, main thread running seconds, main thread waiting seconds)."""
    try:
        cpu = cpu_seconds(pid)
        running, waiting = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[:2]
    except (OSError, ValueError):
        return math.nan, math.nan, math.nan
    return cpu, int(running) / 1e9, int(waiting) / 1e9


def busy_between(
    before: tuple[float, float, float], after: tuple[float, float, float], seconds: float
) -> Busy:
    return Busy(*((b - a) / seconds * 100 for a, b in zip(before, after, strict=True)))


def process_figures(pid: int) -> tuple[float, int]:
    """(RSS MiB, open descriptors) of the server process; NaN and -1 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        descriptors = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return float("nan"), -1
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024, descriptors
    return float("nan"), descriptors
