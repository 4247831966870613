"""Forwarding to the real resolvers: upstream list, UDP with TCP retry, failover, TTL cache."""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fakecloud.dns.wire import (
    DnsWireError,
    Message,
    Question,
    Rcode,
    parse_message,
    with_id,
    with_ttls_reduced,
)

DNS_PORT = 53
MAX_TCP_MESSAGE = 65535
_LENGTH = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int = DNS_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_upstream(text: str) -> Upstream:
    """'1.1.1.1', '1.1.1.1:5353', '::1', '[::1]:5353' -> Upstream; ValueError otherwise.

    Only address literals are accepted: resolving an upstream's name would need DNS itself.
    """
    text = text.strip()
    host, port = text, DNS_PORT
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"upstream {text!r} is not [IPv6]:port")
        port = _port(rest[1:], text) if rest else DNS_PORT
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"upstream {text!r} must be an IP address, optionally with :port"
        ) from None
    return Upstream(str(address), port)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"upstream {whole!r} has a bad port")
    return int(text)


def resolv_conf_upstreams(text: str) -> list[Upstream]:
    """The `nameserver` lines of a resolv.conf, in order, skipping any that are not addresses."""
    upstreams = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                upstreams.append(Upstream(str(ipaddress.ip_address(fields[1].split("%")[0]))))
            except ValueError:
                continue
    return upstreams


def default_upstreams(
    own_host: str, own_port: int, resolv_conf: Path = Path("/etc/resolv.conf")
) -> list[Upstream]:
    """Upstreams from resolv.conf, minus the shim itself (forwarding to ourselves would loop)."""
    try:
        text = resolv_conf.read_text()
    except OSError:
        return []
    own = ipaddress.ip_address(own_host)
    return [
        upstream
        for upstream in resolv_conf_upstreams(text)
        if not (upstream.port == own_port and _is_own_address(upstream.host, own))
    ]


def _is_own_address(host: str, own: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    address = ipaddress.ip_address(host)
    return address == own or (own.is_unspecified and address.is_loopback)


class _ReplyCatcher(asyncio.DatagramProtocol):
    """Waits for the one datagram that answers our query; anything else is counted and ignored."""

    def __init__(self, query_id: int, question: Question, on_mismatch: Callable[[], None]):
        self.reply: asyncio.Future[tuple[bytes, Message]] = (
            asyncio.get_running_loop().create_future()
        )
        self._query_id = query_id
        self._question = question
        self._on_mismatch = on_mismatch

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if self.reply.done():
            return
        message = _matching_reply(data, self._query_id, self._question)
        if message is None:
            self._on_mismatch()
        else:
            self.reply.set_result((data, message))

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


def _matching_reply(data: bytes, query_id: int, question: Question) -> Message | None:
    """The reply's summary if it answers our query (same id, same question), else None.

    Security consideration: a random id, a fresh random source port per query and the question
    check together make a blind spoofed answer (cache poisoning) need about 2**32 guesses.
    """
    try:
        message = parse_message(data)
    except DnsWireError:
        return None
    answered = message.question
    if (
        message.header.id != query_id
        or not message.header.is_response
        or answered is None
        or len(message.questions) != 1
        or not answered.same_as(question)
    ):
        return None
    return message


@dataclass
class ForwarderCounters:
    upstream_failures: int = 0
    mismatched_replies: int = 0
    tcp_retries: int = 0


class Forwarder:
    """Asks each upstream in turn until one gives an answer."""

    def __init__(self, upstreams: list[Upstream], timeout: float) -> None:
        self.upstreams = upstreams
        self.timeout = timeout
        self.counters = ForwarderCounters()

    async def resolve(self, query: bytes, question: Question) -> tuple[bytes, Message] | None:
        """The first upstream answer (its id is ours, not the client's), or None if all fail."""
        for upstream in self.upstreams:
            query_id = secrets.randbelow(0x10000)
            outgoing = with_id(query, query_id)
            try:
                async with asyncio.timeout(self.timeout):
                    data, message = await self._ask_udp(upstream, outgoing, query_id, question)
                if message.header.truncated:
                    self.counters.tcp_retries += 1
                    async with asyncio.timeout(self.timeout):
                        data, message = await self._ask_tcp(upstream, outgoing, query_id, question)
            except (TimeoutError, OSError, DnsWireError, asyncio.IncompleteReadError):
                self.counters.upstream_failures += 1
                continue
            return data, message
        return None

    async def _ask_udp(
        self, upstream: Upstream, query: bytes, query_id: int, question: Question
    ) -> tuple[bytes, Message]:
        loop = asyncio.get_running_loop()
        # A connected socket per query: the kernel drops datagrams from any other address,
        # and each query gets its own random source port.
        transport, catcher = await loop.create_datagram_endpoint(
            lambda: _ReplyCatcher(query_id, question, self._count_mismatch),
            remote_addr=(upstream.host, upstream.port),
        )
        try:
            transport.sendto(query)
            return await catcher.reply
        finally:
            transport.close()

    async def _ask_tcp(
        self, upstream: Upstream, query: bytes, query_id: int, question: Question
    ) -> tuple[bytes, Message]:
        reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
        try:
            writer.write(_LENGTH.pack(len(query)) + query)
            await writer.drain()
            (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
            data = await reader.readexactly(length)
        finally:
            writer.transport.abort()
        message = _matching_reply(data, query_id, question)
        if message is None:
            self._count_mismatch()
            raise DnsWireError("the TCP answer does not match the query")
        return data, message

    def _count_mismatch(self) -> None:
        self.counters.mismatched_replies += 1


CacheKey = tuple[tuple[bytes, ...], int, int]


def cache_key(question: Question) -> CacheKey:
    return tuple(label.lower() for label in question.labels), question.qtype, question.qclass


@dataclass(slots=True)
class _CachedReply:
    data: bytes
    ttl_offsets: tuple[int, ...]
    stored_at: float
    lifetime: int


class ResponseCache:
    """A small LRU cache of upstream answers that honours (and counts down) their TTLs."""

    def __init__(
        self,
        max_entries: int = 1024,
        max_ttl: int = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[CacheKey, _CachedReply] = OrderedDict()
        self._max_entries = max_entries
        self._max_ttl = max_ttl
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> bytes | None:
        """The cached answer with TTLs lowered by its age (id still the upstream's), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        elapsed = int(self._clock() - entry.stored_at)
        if elapsed >= entry.lifetime:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return with_ttls_reduced(entry.data, entry.ttl_offsets, elapsed)

    def put(self, key: CacheKey, data: bytes, message: Message) -> None:
        """Keep a complete NOERROR/NXDOMAIN answer for its smallest TTL (capped); skip others."""
        if (
            self._max_entries == 0
            or message.header.truncated
            or message.header.rcode not in (Rcode.NOERROR, Rcode.NXDOMAIN)
            or not message.ttls
        ):
            return
        lifetime = min(min(message.ttls), self._max_ttl)
        if lifetime <= 0:
            return
        self._entries[key] = _CachedReply(data, message.ttl_offsets, self._clock(), lifetime)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
