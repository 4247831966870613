"""WS-Discovery on UDP 3702: answer ONVIF Probes (multicast 239.255.255.250 or unicast) with
each camera's ProbeMatch, and multicast a Hello for each camera when it starts.

Security consideration: a UDP answer to a forged source address is an amplification vector
(a probe of a few hundred bytes draws a 1.3 KB ProbeMatch per camera). So: only Probes are
answered, only from the allowed networks (FAKECLOUD_DNS_ALLOWED_NETWORKS, the LAN's private
ranges), at most PROBES_PER_SOURCE a second from one address and PROBES_PER_SECOND in all,
and datagrams over MAX_PROBE_BYTES are not parsed. IPv4 only (what NVRs probe)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from fakecloud.core.config import address_in
from fakecloud.core.rates import KeyedTokenBuckets, TokenBucket
from fakecloud.onvif.discovery_codec import (
    DiscoveryError,
    Endpoint,
    hello,
    matches,
    parse_probe,
    probe_matches,
)

MULTICAST_GROUP = "239.255.255.250"
DISCOVERY_PORT = 3702
PROBES_PER_SOURCE, SOURCE_BURST = 2.0, 4
PROBES_PER_SECOND, TOTAL_BURST = 20.0, 40

log = logging.getLogger(__name__)
Networks = list[ipaddress.IPv4Network | ipaddress.IPv6Network]


class DiscoveryResponder(asyncio.DatagramProtocol):
    def __init__(self, endpoints: Callable[[], list[Endpoint]], allowed: Networks) -> None:
        self.endpoints = endpoints
        self.allowed = allowed
        self.counters: Counter[str] = Counter()
        self._per_source = KeyedTokenBuckets(PROBES_PER_SOURCE, SOURCE_BURST)
        self._total = TokenBucket(PROBES_PER_SECOND, TOTAL_BURST)
        # AppSequence: a new instance id each start, and a message number that only grows.
        self._instance = int(time.time())
        self._number = 0
        self._transport: asyncio.DatagramTransport | None = None

    def _sequence(self) -> tuple[int, int]:
        self._number += 1
        return self._instance, self._number

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport (Python 3.11's is not a DatagramTransport subclass).
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        source = str(addr[0])
        if not address_in(source, self.allowed):
            self.counters["refused_source"] += 1
            return
        try:
            probe = parse_probe(data)
        except DiscoveryError:
            self.counters["not_a_probe"] += 1
            return
        if not self._per_source.take(source) or not self._total.take():
            self.counters["rate_limited"] += 1
            return
        self.counters["probes"] += 1
        for endpoint in self.endpoints():
            if matches(probe, endpoint) and self._transport is not None:
                self._transport.sendto(probe_matches(probe, endpoint, self._sequence()), addr)
                self.counters["matches_sent"] += 1

    def announce(self, transport: asyncio.DatagramTransport, port: int) -> None:
        """Multicast a Hello for every camera (clients listening learn of them at once). The
        transport is passed in: asyncio tells the protocol of it only on the next loop turn."""
        for endpoint in self.endpoints():
            transport.sendto(hello(endpoint, self._sequence()), (MULTICAST_GROUP, port))
            self.counters["hellos_sent"] += 1


def discovery_socket(bind: str, port: int) -> socket.socket:
    """A UDP socket on `port` that has joined the WS-Discovery group. SO_REUSEADDR lets it
    share the port with another WS-Discovery service on the host (Samba's wsdd): every such
    socket receives the multicast probes."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind((bind, port))
        membership = struct.pack(
            "4s4s", socket.inet_aton(MULTICAST_GROUP), socket.inet_aton("0.0.0.0")
        )
        udp.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        # One hop: Hellos stay on the LAN.
        udp.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        udp.setblocking(False)
    except OSError:
        udp.close()
        raise
    return udp


async def open_responder(
    bind: str, port: int, endpoints: Callable[[], list[Endpoint]], allowed: Networks
) -> tuple[asyncio.DatagramTransport, DiscoveryResponder]:
    loop = asyncio.get_running_loop()
    transport, responder = await loop.create_datagram_endpoint(
        lambda: DiscoveryResponder(endpoints, allowed), sock=discovery_socket(bind, port)
    )
    return transport, responder
