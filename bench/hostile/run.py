"""Hostile-load benchmark (run by hand): legitimate logins during a wrong-password flood.

    python bench/hostile/run.py [--logins 200] [--flood-rate 40] [--flood-seconds 20]

A broker over a real store (default scrypt) runs in a child process on loopback. The same run
measures, first quiet and then during a flood of wrong CXNet passwords from 127.0.0.2, a
legitimate camera login from 127.0.0.1 (its password cached, as a reconnecting camera's is), and
prints p50/p99 side by side with the ratio flood/quiet and the server's RSS. Loopback only;
bounded in count and time; stops by itself.
Not covered yet: REST and HTTP Basic floods (tests/web/test_login_limits.py checks their
behaviour), keepalive timing, and the other attacks of issue 8 section 9.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Runs from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fakecloud.broker import Broker
from fakecloud.core.config import Settings
from fakecloud.frontdoor.connection import ConnectionInfo
from fakecloud.net.cxnet import Action, Frame, FrameDecoder, encode_frame
from fakecloud.net.properties import encode_properties
from fakecloud.store import AsyncStore, Store

LOGIN, PASSWORD = "bench", "bench password"
HOST, ATTACKER = "127.0.0.1", "127.0.0.2"
DEADLINE = 30.0  # for any one exchange


def serve(data_dir: str, port_pipe: multiprocessing.connection.Connection) -> None:
    logging.disable(logging.WARNING)  # every refusal is logged; not what is measured

    async def main() -> None:
        settings = Settings(data_dir=Path(data_dir), broker_port=0, broker_hostname="localhost")
        store = Store(settings.database_path)
        store.add_account(LOGIN, PASSWORD)
        broker = Broker(settings, AsyncStore(store))
        ids = iter(range(1, 10**9))

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")[:2]
            info = ConnectionInfo(f"b{next(ids)}", peer, port, False, None, HOST)
            await broker.handle_connection(reader, writer, info)

        server = await asyncio.start_server(handle, HOST, 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        await broker.start()
        port_pipe.send(port)
        await asyncio.Event().wait()  # until the parent terminates us

    asyncio.run(main())


async def exchange(
    port: int, frame: Frame, source: str = HOST, *, keep: bool = False
) -> tuple[Frame, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
    writer.write(encode_frame(frame))
    decoder = FrameDecoder(max_body=1 << 20)
    async with asyncio.timeout(DEADLINE):
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("closed without a reply")
            if frames := decoder.feed(data):
                if not keep:
                    writer.close()
                return frames[0], reader, writer


def login_frame(password: str, mac: str = "EC:1A:59:00:00:01") -> Frame:
    properties = {"CX_UNAME": LOGIN, "CX_PASSWD": password, "mac": mac, "client_type": "bench"}
    return Frame(action=Action.LOGIN, options=encode_properties(properties))


async def legit_logins(port: int, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        reply, _, _ = await exchange(port, login_frame(PASSWORD))
        times.append(time.perf_counter() - start)
        assert reply.action == Action.LOGIN, reply
    return times


async def flood(port: int, rate: float, seconds: float, stop: asyncio.Event) -> int:
    sent, tasks = 0, set()
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.is_set():
        task = asyncio.create_task(exchange(port, login_frame(f"guess {sent}"), ATTACKER))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks, return_exceptions=True)
    return sent


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100)[int(q) - 1] * 1000 if len(times) > 1 else 0.0


async def measure(args: argparse.Namespace, pid: int, port: int) -> None:
    await legit_logins(port, 3)  # caches the password, as a reconnecting camera has it
    quiet = await legit_logins(port, args.logins)
    quiet_rss = rss_mib(pid)
    stop = asyncio.Event()
    attack = asyncio.create_task(flood(port, args.flood_rate, args.flood_seconds, stop))
    await asyncio.sleep(min(2.0, args.flood_seconds / 4))  # let the flood build up
    loud = await legit_logins(port, args.logins)
    loud_rss = rss_mib(pid)
    stop.set()
    sent = await attack
    print(f"wrong CXNet logins sent from {ATTACKER}: {sent} at {args.flood_rate:g}/s")
    print(f"{'camera login':<16}{'quiet':>10}{'flood':>10}{'ratio':>8}")
    for name, q in (("p50 ms", 50), ("p99 ms", 99)):
        a, b = p(quiet, q), p(loud, q)
        print(f"{name:<16}{a:>10.2f}{b:>10.2f}{b / a if a else float('nan'):>8.2f}")
    print(f"{'RSS MiB':<16}{quiet_rss:>10.1f}{loud_rss:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--flood-rate", type=float, default=40.0)
    parser.add_argument("--flood-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve, args=(data_dir, child), daemon=True)
        server.start()
        try:
            if not parent.poll(DEADLINE):
                raise SystemExit("the server did not start")
            asyncio.run(asyncio.wait_for(measure(args, server.pid, parent.recv()), 600))
        finally:
            server.terminate()
            server.join(10)


if __name__ == "__main__":
    main()
