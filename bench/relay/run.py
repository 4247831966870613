"""Relay fan-out benchmark (run by hand): python bench/relay/run.py [--seconds 3]

One camera sends 2 Mbit/s of 1,200-byte datagrams; the relay (a separate process) fans them out
to 1, 10, 50 and 200 viewers. A minimal asyncio UDP forwarder, also in its own process, is the
baseline. Reported per run: one-way latency p50/p99 (timestamps carried in the datagrams,
measured on up to 10 viewers; the others are registered sockets nobody reads, which costs the
relay the same), the forwarding process's CPU per viewer and its RSS. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Runs from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.process import cpu_seconds, rss_bytes, stop_child
from fakecloud.core.config import Settings
from fakecloud.net.sdnk import Address, Connect, Connected, Register, RelayAck, decode
from fakecloud.relay import RelayPart
from fakecloud.relay.proof import PROOF_ROUNDS

HOST = "127.0.0.1"
DATAGRAM_BYTES = 1200
BITRATE = 2_000_000
INTERVAL = DATAGRAM_BYTES * 8 / BITRATE  # 4.8 ms: about 208 datagrams a second
MEASURED_VIEWERS = 10
VIEWER_COUNTS = (1, 10, 50, 200)
CHILD_LIFETIME = 120.0
# Media header: sequence and send time (CLOCK_MONOTONIC is shared by all processes).
STAMP = struct.Struct("<QQ")
CAMERA_ID = 1
HELLO_CAMERA, HELLO_VIEWER, HELLO_OK = b"camera", b"viewer", b"ok"


# --- the forwarding processes -------------------------------------------------------------


class _Baseline(asyncio.DatagramProtocol):
    """The simplest forwarder that does the same job: camera datagrams to every viewer."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.camera: tuple[str, int] | None = None
        self.viewers: list[tuple[str, int]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        assert self.transport is not None
        if addr == self.camera:
            for viewer in self.viewers:
                self.transport.sendto(data, viewer)
        elif data == HELLO_CAMERA:
            self.camera = addr
            self.transport.sendto(HELLO_OK, addr)
        elif data == HELLO_VIEWER:
            self.viewers.append(addr)
            self.transport.sendto(HELLO_OK, addr)


async def _child(mode: str, viewers: int) -> None:
    loop = asyncio.get_running_loop()
    relay: RelayPart | None = None
    if mode == "relay":
        settings = Settings(
            announce_address=HOST,
            bind_address=HOST,
            relay_port=0,
            dns_port=0,
            http_port=0,
            cloud_ports=[],
        )
        # Every measured viewer is on loopback: one host, so lift its per-host share.
        relay = RelayPart(settings, max_viewer_sockets_per_host=viewers)
        await relay.start()
        for index in range(viewers):
            relay.allocate(CAMERA_ID, "video", f"v{index}", viewer_host=HOST)
        port = relay.port
    else:
        transport, _ = await loop.create_datagram_endpoint(_Baseline, local_addr=(HOST, 0))
        port = transport.get_extra_info("sockname")[1]
    print(port, flush=True)
    # Runs until the parent closes our stdin (or the lifetime cap).
    async with asyncio.timeout(CHILD_LIFETIME):
        await loop.run_in_executor(None, sys.stdin.read)
    if relay is not None:
        await relay.stop()


# --- the measuring side -----------------------------------------------------------------


class _Latencies:
    """Latencies from every measured viewer; `complete` is set once `expected` have arrived."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.expected: int | None = None
        self.complete = asyncio.Event()

    def add(self, value: int) -> None:
        self.values.append(value)
        self.check()

    def check(self) -> None:
        if self.expected is not None and len(self.values) >= self.expected:
            self.complete.set()


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, latencies: _Latencies) -> None:
        self._latencies = latencies

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) == DATAGRAM_BYTES:
            self._latencies.add(time.monotonic_ns() - STAMP.unpack_from(data)[1])


async def _handshake(sock: socket.socket, mode: str, port: int, hello: bytes) -> None:
    """Baseline: hello, "ok". Relay: REGISTER, PEERS; a viewer then acknowledges and echoes
    the relay's CONNECT challenges as both public clients do (the camera got RELAY_ACK too)."""
    loop = asyncio.get_running_loop()
    relay = (HOST, port)
    await loop.sock_sendto(sock, hello, relay)
    async with asyncio.timeout(5):
        first, _ = await loop.sock_recvfrom(sock, 4096)
        if mode != "relay":
            return
        packet = decode(first)
        if isinstance(packet, RelayAck):
            await loop.sock_recvfrom(sock, 4096)  # the camera: RELAY_ACK, then PEERS
            return
        register = decode(hello)
        assert isinstance(register, Register)
        ack = RelayAck(register.channel, register.kind, register.ids)
        await loop.sock_sendto(sock, ack.encode(), relay)
        for _ in range(PROOF_ROUNDS):
            challenge = decode((await loop.sock_recvfrom(sock, 4096))[0])
            assert isinstance(challenge, Connect)
            await loop.sock_sendto(sock, Connected(challenge.counter).encode(), relay)


def _hello(mode: str, sock: socket.socket, ids: tuple[str, str] | None, fallback: bytes) -> bytes:
    if mode != "relay" or ids is None:
        return fallback
    host, port = sock.getsockname()
    return Register(0, "V", Address(host, port), ids).encode()


def _bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


@dataclass
class Result:
    mode: str
    viewers: int
    sent: int
    received: int
    p50_ms: float
    p99_ms: float
    cpu_per_viewer_ms: float  # CPU milliseconds per second of stream, per viewer
    rss_mib: float


def _percentile(values: Sequence[int], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e6


async def _run(mode: str, viewers: int, seconds: float) -> Result:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        mode,
        str(viewers),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    sockets: list[socket.socket] = []
    transports: list[asyncio.BaseTransport] = []
    try:
        async with asyncio.timeout(30):
            port = int(await child.stdout.readline())
        loop = asyncio.get_running_loop()
        latencies = _Latencies()
        for index in range(viewers):
            sock = _bound()
            ids = (f"V_v{index}", f"V_{CAMERA_ID}")
            await _handshake(sock, mode, port, _hello(mode, sock, ids, HELLO_VIEWER))
            if index < MEASURED_VIEWERS:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Receiver(latencies), sock=sock
                )
                transports.append(transport)
            else:
                sockets.append(sock)
        camera = _bound()
        sockets.append(camera)
        camera_ids = (f"V_{CAMERA_ID}", "V_v0")
        await _handshake(camera, mode, port, _hello(mode, camera, camera_ids, HELLO_CAMERA))
        cpu_before = cpu_seconds(child.pid)
        padding = bytes(DATAGRAM_BYTES - STAMP.size)
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) - start < seconds:
            camera.sendto(STAMP.pack(sent, time.monotonic_ns()) + padding, (HOST, port))
            sent += 1
            # Pacing the camera to its bit rate (a schedule, not a synchronisation).
            await asyncio.sleep(max(0.0, start + sent * INTERVAL - now))
        elapsed = time.monotonic() - start
        cpu_after, rss = cpu_seconds(child.pid), rss_bytes(child.pid)
        measured = min(viewers, MEASURED_VIEWERS)
        # Let in-flight datagrams land; whatever is missing after a second counts as lost.
        latencies.expected = sent * measured
        latencies.check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(latencies.complete.wait(), 1.0)
        return Result(
            mode=mode,
            viewers=viewers,
            sent=sent,
            received=len(latencies.values) // measured,
            p50_ms=_percentile(latencies.values, 0.50),
            p99_ms=_percentile(latencies.values, 0.99),
            cpu_per_viewer_ms=(cpu_after - cpu_before) / elapsed / viewers * 1000,
            rss_mib=rss / (1 << 20),
        )
    finally:
        for transport in transports:
            transport.close()
        for sock in sockets:
            sock.close()
        await stop_child(child)


async def _main(seconds: float) -> None:
    print(
        f"{'viewers':>7} {'mode':>8} {'sent':>6} {'recv/viewer':>11} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'CPU ms/s/viewer':>15} {'RSS MiB':>8}"
    )
    for viewers in VIEWER_COUNTS:
        pair = [await _run(mode, viewers, seconds) for mode in ("baseline", "relay")]
        for r in pair:
            print(
                f"{r.viewers:>7} {r.mode:>8} {r.sent:>6} {r.received:>11} {r.p50_ms:>7.3f} "
                f"{r.p99_ms:>7.3f} {r.cpu_per_viewer_ms:>15.3f} {r.rss_mib:>8.1f}"
            )
        baseline, relay = pair
        cpu_ratio = relay.cpu_per_viewer_ms / max(baseline.cpu_per_viewer_ms, 1e-6)
        print(
            f"{'':>7} {'ratio':>8} relay/baseline: p99 {relay.p99_ms / baseline.p99_ms:.2f}x, "
            f"CPU {cpu_ratio:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="stream time per run")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "VIEWERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child[0], int(args.child[1])))
    else:
        asyncio.run(_main(min(args.seconds, 30.0)))


if __name__ == "__main__":
    main()
