"""The attacks of issue 8 section 9, each from its own 127.0.0.x addresses, each bounded in time
and count. An attack runs until the monotonic time `until`; it signals `ready` once it is at
full strength (the held connections are open), so the measure starts under load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from common import (
    EXCHANGE_TIMEOUT,
    LOGIN_MAC,
    MALLORY,
    MALLORY_MAC,
    MALLORY_PASSWORD,
    OWNER,
    SERVER,
    Counter,
    Link,
    Target,
    attacker_address,
    basic,
    http_request,
    keepalive_frame,
    login_frame,
    one_login,
    paced,
)

from fakecloud.net.cxnet import Action, Frame, encode_frame
from fakecloud.net.sdnk import Address, Register


@dataclass(frozen=True)
class Strength:
    """How hard the attacks push (command-line options)."""

    flood_rate: float = 40.0  # wrong logins (or unauthenticated camera logins) per second
    held: int = 1200  # connections held open, beyond a 1024-descriptor server
    trickle_every: float = 2.0  # seconds between the bytes of a trickling connection
    keepalive_sessions: int = 4
    relay_packets_per_second: float = 2000.0
    dns_tcp_connections: int = 300


Attack = Callable[[Target, Strength, float, asyncio.Event, Counter], Awaitable[None]]


async def _tally(counter: Counter, attempt: Awaitable[str]) -> None:
    """One attacker exchange, its outcome counted by name (never raised)."""
    try:
        counter.add(await attempt)
    except TimeoutError:
        counter.add("timed out")
    except (OSError, ConnectionError, ValueError) as error:
        counter.add(type(error).__name__)


async def _login_outcome(target: Target, frame: Frame, source: str, accepted: str) -> str:
    reply = await one_login(target.cxnet_port, frame, source)
    return accepted if reply.action == Action.LOGIN else "refused"


async def cxnet_flood(
    target: Target, strength: Strength, until: float, ready: asyncio.Event, counter: Counter
) -> None:
    """(1) Wrong CXNet passwords for the owner's account over TLS from 127.0.0.2."""

    def one(number: int) -> Awaitable[None]:
        frame = login_frame(OWNER, f"guess {number}", LOGIN_MAC)
        return _tally(counter, _login_outcome(target, frame, attacker_address(2), "logged in (!)"))

    ready.set()
    await paced(strength.flood_rate, until, one)


async def _status_name(request: Awaitable[tuple[int, bytes]]) -> str:
    status, _ = await request
    return f"HTTP {status}"


async def rest_flood(
    target: Target, strength: Strength, until: float, ready: asyncio.Event, counter: Counter
) -> None:
    """(2) Wrong passwords at the portal's REST login (POST /cxs/api/auth/login), 127.0.0.3."""
    ready.set()

    def one(number: int) -> Awaitable[None]:
        body = f'{{"username": "{OWNER}", "password": "guess {number}"}}'.encode()
        request = http_request(
            target.http_port,
            "POST",
            "/cxs/api/auth/login",
            source=attacker_address(3),
            headers={"AntiCSRF": "1", "Content-Type": "application/json"},
            body=body,
        )
        return _tally(counter, _status_name(request))

    await paced(strength.flood_rate, until, one)


async def basic_flood(
    target: Target, strength: Strength, until: float, ready: asyncio.Event, counter: Counter
) -> None:
    """(3) Wrong HTTP Basic passwords on an API page (GET /api/cameras), from 127.0.0.4."""
    ready.set()

    def one(number: int) -> Awaitable[None]:
        request = http_request(
            target.http_port,
            "GET",
            "/api/cameras",
            source=attacker_address(4),
            headers={"Authorization": basic(OWNER, f"guess {number}")},
        )
        return _tally(counter, _status_name(request))

    await paced(strength.flood_rate, until, one)


# Held connections come from 127.0.0.10 onwards, this many per address (above the server's
# per-address cap of 256 would only test that cap; spread, they reach the descriptor limit).
HELD_PER_ADDRESS = 150
TRICKLE_SHARE = 10  # one held connection in this many trickles a byte at a time
READ_LIMIT = 4096


# The start of a TLS ClientHello that never completes (a trickler sends it a byte at a time).
UNFINISHED_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64)


@dataclass(frozen=True)
class Hold:
    """How a held connection behaves: `opening` at once, then `trickle` a byte every `every`."""

    opening: bytes = b""
    trickle: bytes = b""
    every: float = 1.0


async def _hold(port: int, source: str, how: Hold, until: float, counter: Counter) -> None:
    """One connection held open until `until`; counts whether the server closed it first."""
    try:
        async with asyncio.timeout(EXCHANGE_TIMEOUT):
            reader, writer = await asyncio.open_connection(SERVER, port, local_addr=(source, 0))
    except (OSError, TimeoutError) as error:
        counter.add(f"not opened ({type(error).__name__})")
        return
    counter.add("opened")
    opened = time.monotonic()
    try:
        writer.write(how.opening)
        pending = how.trickle
        while (left := until - time.monotonic()) > 0:
            if pending:
                writer.write(pending[:1])
                pending = pending[1:]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, how.every) if how.trickle else left):
                    if not await reader.read(READ_LIMIT):
                        counter.add("closed by the server")
                        if how.trickle:  # the login deadline should cover the whole login
                            lasted = round(time.monotonic() - opened)
                            counter.most("longest a trickler lasted (s)", lasted)
                        return
        counter.add("tricklers held to the end" if how.trickle else "held to the end")
    except OSError:
        counter.add("reset by the server")
    finally:
        writer.transport.abort()


async def held_connections(
    target: Target, strength: Strength, until: float, ready: asyncio.Event, counter: Counter
) -> None:
    """(4) Connections held open towards the descriptor limit (the server runs with 1024) from
    127.0.0.10 onwards, three in four to the cloud port and one to the HTTP port; one in ten
    trickles a byte every `trickle_every` seconds and never finishes its first message."""
    tasks = []
    opening = asyncio.Semaphore(64)

    async def one(number: int) -> None:
        async with opening:
            source = attacker_address(10 + number // HELD_PER_ADDRESS)
            port = target.http_port if number % 4 == 3 else target.cxnet_port
            how = Hold()
            if number % TRICKLE_SHARE == 0:
                how = Hold(trickle=UNFINISHED_HELLO, every=strength.trickle_every)
            task = asyncio.create_task(_hold(port, source, how, until, counter))
            # At most 64 opening at once, each given a moment: a steady build-up rather than a
            # burst of connects beyond the listen backlog.
            await asyncio.wait({task}, timeout=0.05)
            tasks.append(task)

    await asyncio.gather(*(one(number) for number in range(strength.held)))
    ready.set()
    await asyncio.gather(*tasks)


async def unauthenticated_cameras(
    target: Target, strength: Strength, until: float, ready: asyncio.Event, counter: Counter
) -> None:
    """(5) Camera logins with random MACs and no credentials, from 127.0.0.5 and 127.0.0.205."""

    def one(number: int) -> Awaitable[None]:
        mac = ":".join(f"{byte:02X}" for byte in b"\x02" + random.randbytes(5))
        source = attacker_address(5 + number % 2 * 200)
        outcome = _login_outcome(target, login_frame(None, None, mac), source, "answered (pending)")
        return _tally(counter, outcome)

    ready.set()
    await paced(strength.flood_rate, until, one)


async def _spam_session(target: Target, until: float, counter: Counter) -> None:
    """One session of Mallory's own, logged in, sending keepalives as fast as TCP takes them;
    logs in again (bounded) when the server closes it."""
    for _ in range(20):
        if time.monotonic() >= until:
            return
        try:
            link = await Link.connect(target.cxnet_port, attacker_address(6))
        except (OSError, TimeoutError):
            counter.add("not connected")
            continue
        try:
            reply = await link.login(login_frame(MALLORY, MALLORY_PASSWORD, MALLORY_MAC))
            if reply.action != Action.LOGIN:
                counter.add("login refused")
                continue
            burst = encode_frame(keepalive_frame(reply.session)) * 100
            reading = asyncio.create_task(_discard(link))
            # Stops at once when the server closes (no writes into a closed transport).
            while time.monotonic() < until and not link.writer.transport.is_closing():
                link.writer.write(burst)
                async with asyncio.timeout(EXCHANGE_TIMEOUT):
                    await link.writer.drain()
                counter.add("keepalives sent", 100)
            if link.writer.transport.is_closing():
                counter.add("closed by the server")
            reading.cancel()
        except (OSError, TimeoutError, ConnectionError):
            counter.add("closed by the server")
        finally:
            link.abort()


async def _discard(link: Link) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while await link.reader.read(65536):
            pass


async def keepalive_spam(
    target: Target, strength: Strength, until: float, ready: asyncio.Event, counter: Counter
) -> None:
    """(6) Keepalives as fast as the socket takes them on sessions of another account, 127.0.0.6
    (the per-session frame rate should drop and then close them)."""
    ready.set()
    await asyncio.gather(
        *(_spam_session(target, until, counter) for _ in range(strength.keepalive_sessions))
    )


class _Counting(asyncio.DatagramProtocol):
    def __init__(self, counter: Counter, name: str) -> None:
        self.counter, self.name = counter, name

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.counter.add(self.name, len(data))


VICTIM = attacker_address(66)


async def relay_flood(
    target: Target, strength: Strength, until: float, ready: asyncio.Event, counter: Counter
) -> None:
    """(7) UDP at the relay port while a camera streams: REGISTERs with random ids and garbage
    from 64 sockets on 127.0.0.7, and spoofed REGISTERs naming the streaming camera's ids
    "from" a victim (a socket on 127.0.0.66, which is how a spoofed source looks on loopback);
    reported: bytes the relay sent the victim against the bytes "it" sent."""
    loop = asyncio.get_running_loop()
    relay = (SERVER, target.relay_port)
    transports = []
    try:
        for _ in range(64):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Counting(counter, "bytes back to the flooder"),
                local_addr=(attacker_address(7), 0),
            )
            transports.append(transport)
        victim, _ = await loop.create_datagram_endpoint(
            lambda: _Counting(counter, "bytes the relay sent the victim"),
            local_addr=(VICTIM, 0),
        )
        transports.append(victim)
        for name in ("bytes the relay sent the victim", "bytes back to the flooder"):
            counter.add(name, 0)  # shown even when nothing comes back
        victim_address = Address(*victim.get_extra_info("sockname")[:2])
        spoofed = [
            Register(channel, "V", victim_address, ids).encode()
            for channel in (0, 1)
            for ids in target.stream_ids
        ]
        ready.set()
        started, sent = time.monotonic(), 0
        while (now := time.monotonic()) < until:
            transport = transports[sent % 64]
            if sent % 10 == 0:
                packet = spoofed[sent // 10 % len(spoofed)]
                victim.sendto(packet, relay)
                counter.add("bytes the victim sent (spoofed REGISTERs)", len(packet))
            elif sent % 2:
                ids = (f"V_{random.getrandbits(40)}", f"V_{random.getrandbits(20)}")
                transport.sendto(Register(0, "V", victim_address, ids).encode(), relay)
            else:
                transport.sendto(struct.pack("!I", sent) + random.randbytes(1196), relay)
            sent += 1
            if sent % 50 == 0:
                await asyncio.sleep(
                    max(0.0, started + sent / strength.relay_packets_per_second - now)
                )
        counter.add("datagrams sent", sent)
    finally:
        for transport in transports:
            transport.close()


DNS_HALF_PREFIX = Hold(opening=b"\x00")  # the first byte of a DNS message's length, no more


async def dns_tcp_hog(
    target: Target, strength: Strength, until: float, ready: asyncio.Event, counter: Counter
) -> None:
    """(8) DNS over TCP connections held open (half a length prefix, then nothing) from
    127.0.0.8 and 127.0.0.9, to take every slot of the shim's TCP side."""
    tasks = []
    for number in range(strength.dns_tcp_connections):
        source = attacker_address(8 + number % 2)
        hold = _hold(target.dns_port, source, DNS_HALF_PREFIX, until, counter)
        tasks.append(asyncio.create_task(hold))
        if number % 32 == 31:
            await asyncio.wait(tasks[-32:], timeout=0.2)
    ready.set()
    await asyncio.gather(*tasks)


ATTACKS: dict[str, Attack] = {
    "cxnet-flood": cxnet_flood,
    "rest-flood": rest_flood,
    "basic-flood": basic_flood,
    "held-connections": held_connections,
    "unauth-cameras": unauthenticated_cameras,
    "keepalive-spam": keepalive_spam,
    "relay-flood": relay_flood,
    "dns-tcp-hog": dns_tcp_hog,
}


async def attacker_process(name: str, target: Target, strength: Strength, seconds: float) -> None:
    """An attack for `seconds` in a process of its own (its CPU is not the legitimate
    client's): prints "ready" when at full strength, then what it did as one JSON line."""
    until = time.monotonic() + seconds
    # Writes into connections the server has closed are what a flooder does; asyncio's
    # warning about each of them would bury the report.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    ready = asyncio.Event()
    counter = Counter()

    async def announce() -> None:
        await ready.wait()
        print("ready", flush=True)

    announcer = asyncio.create_task(announce())
    try:
        # Bounded whatever the attack does: its stragglers have their own exchange timeouts.
        async with asyncio.timeout(seconds + 2 * EXCHANGE_TIMEOUT):
            await ATTACKS[name](target, strength, until, ready, counter)
    except TimeoutError:
        counter.add("attack cut off at its deadline")
    finally:
        announcer.cancel()
    print(json.dumps(counter.counts), flush=True)
