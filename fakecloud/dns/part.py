"""The DNS shim: vendor names answer with fakecloud's address, everything else is forwarded."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import struct
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Generic, Literal, TypeVar

from fakecloud.catalogue import Catalogue
from fakecloud.core.config import Settings, address_in
from fakecloud.core.errors import UserError
from fakecloud.core.recording import Recorder
from fakecloud.dns.answers import LocalAnswers
from fakecloud.dns.upstream import (
    Forwarder,
    ResponseCache,
    Upstream,
    cache_key,
    default_upstreams,
    parse_upstream,
)
from fakecloud.dns.wire import (
    OPCODE_QUERY,
    DnsWireError,
    Header,
    Message,
    Question,
    Rcode,
    parse_header,
    parse_message,
    truncated_copy,
    with_id,
)
from fakecloud.frontdoor.part import describe_bind_error

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Labels = tuple[bytes, ...]

# Queries are small; anything bigger than this is not a question a camera or a resolver asks.
MAX_QUERY_BYTES = 4096
_LENGTH = struct.Struct("!H")
# Bounded memories: a flood of distinct names or clients can only push old entries out.
_MEMORY_ENTRIES = 4096
_MAX_DISCOVERED = 256
_BIND_ATTEMPTS = 5
_DATAGRAMS_PER_WAKEUP = 64


def bind_error_fix(error: OSError, bind: str) -> str:
    """What a user can do when the DNS port cannot be bound, for this cause."""
    alternatives = (
        "point the router's DNS at fakecloud instead (see `fakecloud dns-config`), "
        "or set FAKECLOUD_DNS_ENABLED=false"
    )
    if error.errno == errno.EACCES:
        return (
            "give fakecloud the privilege (run as root, `setcap cap_net_bind_service=+ep` on the "
            f"Python binary, or Docker `cap_add: [NET_BIND_SERVICE]`), {alternatives}"
        )
    if error.errno == errno.EADDRINUSE:
        lan_hint = (
            "set FAKECLOUD_BIND_ADDRESS to this machine's LAN address (a local resolver such as "
            "systemd-resolved listens on 127.0.0.53 only), "
            if ipaddress.ip_address(bind).is_unspecified
            else ""
        )
        return (
            "another DNS server (systemd-resolved, Pi-hole, AdGuard, dnsmasq) has it: "
            f"{lan_hint}{alternatives}"
        )
    return alternatives


@dataclass
class DnsCounters:
    queries: int = 0
    redirected: int = 0
    forwarded: int = 0
    refused: int = 0
    formerr: int = 0
    notimp: int = 0
    servfail: int = 0
    cache_hits: int = 0
    dropped: int = 0
    rate_limited: int = 0
    overloaded: int = 0
    tcp_connections_rejected: int = 0
    tcp_client_share_rejected: int = 0
    tcp_connections_expired: int = 0


@dataclass(frozen=True, slots=True)
class _NameFacts:
    name: str
    redirect: bool
    vendor: bool
    listed: bool


K = TypeVar("K")
V = TypeVar("V")


class _BoundedMemory(Generic[K, V]):
    """An insertion-ordered map that forgets its oldest entries past a size."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._size = size

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def add(self, key: K, value: V) -> None:
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)


class DnsPart:
    """DNS over UDP and TCP on Settings.bind_address:Settings.dns_port.

    `allowed_networks` and `upstreams` default to the settings (and /etc/resolv.conf); tests
    inject them to exercise refusal without leaving loopback.
    """

    name = "dns"

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        recorder: Recorder | None = None,
        *,
        allowed_networks: list[Network] | None = None,
        upstreams: list[Upstream] | None = None,
        cache_entries: int = 1024,
        max_pending_forwards: int = 256,
        max_tcp_connections: int = 64,
        max_tcp_per_client: int | None = None,
        tcp_idle_timeout: float = 10.0,
        error_replies_per_second: int = 100,
    ) -> None:
        self._settings = settings
        self._catalogue = catalogue
        self._recorder = recorder
        self._allowed = (
            allowed_networks if allowed_networks is not None else settings.allowed_networks()
        )
        self._configured_upstreams = upstreams
        self._answers = LocalAnswers(settings.effective_announce_address, settings.dns_ttl)
        # The login redirect's target may live at an address of its own (docs/broker.md).
        self._broker_name = settings.broker_hostname
        self._broker_answers = LocalAnswers(settings.effective_broker_address, settings.dns_ttl)
        self._forwarder = Forwarder([], settings.dns_upstream_timeout)
        self._cache = ResponseCache(cache_entries)
        self._max_pending_forwards = max_pending_forwards
        self._max_tcp_connections = max_tcp_connections
        # Security consideration: one client may hold only a share of the TCP slots, so a
        # single host opening connections cannot lock every other resolver out.
        self._max_tcp_per_client = max_tcp_per_client or max(1, max_tcp_connections // 8)
        self._tcp_per_client: dict[str, int] = {}
        self._tcp_idle_timeout = tcp_idle_timeout
        self.counters = DnsCounters()
        self._discovered: dict[str, str] = {}  # name -> first client that asked
        self._name_facts: _BoundedMemory[Labels, _NameFacts] = _BoundedMemory(_MEMORY_ENTRIES)
        self._peer_allowed: _BoundedMemory[str, bool] = _BoundedMemory(_MEMORY_ENTRIES)
        self._greeted: _BoundedMemory[tuple[str, str], bool] = _BoundedMemory(_MEMORY_ENTRIES)
        self._recorded_bad_peers: _BoundedMemory[str, bool] = _BoundedMemory(_MEMORY_ENTRIES)
        self._error_budget: _BoundedMemory[str, list[int]] = _BoundedMemory(_MEMORY_ENTRIES)
        self._error_replies_per_second = error_replies_per_second
        self._udp: socket.socket | None = None
        self._tcp: asyncio.Server | None = None
        self._port: int | None = None
        # Why the shim could not listen, and the fix: shown in the log and /api/status.
        self._not_running: dict[str, str] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tcp_handlers: set[asyncio.Task[Any]] = set()

    # --- Part protocol -------------------------------------------------------------------

    async def start(self) -> None:
        bind = self._settings.bind_address
        self._bind_checked(bind)
        upstreams = self._configured_upstreams
        if upstreams is None and self._settings.dns_upstreams:
            upstreams = self._settings_upstreams()
        self._not_running = None
        for _ in range(_BIND_ATTEMPTS):
            try:
                await self._listen(bind, self._settings.dns_port)
                break
            except OSError as error:
                await self.stop()
                self._port = None
                # With port 0 the kernel's UDP choice may be taken for TCP: pick another.
                if self._settings.dns_port != 0 or error.errno != errno.EADDRINUSE:
                    self._report_not_running(error)
                    return
        else:
            raise UserError(f"cannot find a free DNS port on {bind}")
        if upstreams is None:
            upstreams = default_upstreams(bind, self._port or 0)
        self._forwarder.upstreams = upstreams
        if not upstreams:
            log.warning("DNS: no upstream resolvers; names fakecloud does not own get SERVFAIL")
        log.info(
            "DNS shim listening on %s, answering vendor names with %s, forwarding the rest to %s",
            self.address,
            self._settings.effective_announce_address,
            ", ".join(str(upstream) for upstream in upstreams) or "nobody",
        )

    async def stop(self) -> None:
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp)
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        for task in [*self._tasks, *self._tcp_handlers]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._tcp_handlers, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()
            self._tcp = None

    def status(self) -> dict[str, Any]:
        return {
            "running": self._port is not None,
            **(self._not_running or {}),
            "address": self.address,
            "port": self._port,
            "announce_address": self._settings.effective_announce_address,
            "upstreams": [str(upstream) for upstream in self._forwarder.upstreams],
            "counters": asdict(self.counters) | asdict(self._forwarder.counters),
            "cache_entries": len(self._cache),
            "discovered": sorted(self._discovered),
        }

    @property
    def failure(self) -> str | None:
        """Why the shim is not listening and how to fix it, after a start that could not bind."""
        if self._not_running is None:
            return None
        return f"{self._not_running['error']}. Fix: {self._not_running['fix']}"

    @property
    def port(self) -> int | None:
        """The port actually bound (useful when the settings asked for port 0)."""
        return self._port

    @property
    def address(self) -> str | None:
        if self._port is None:
            return None
        bind = self._settings.bind_address
        return f"[{bind}]:{self._port}" if ":" in bind else f"{bind}:{self._port}"

    # --- listeners -------------------------------------------------------------------------

    def _report_not_running(self, error: OSError) -> None:
        """Port 53 is often taken (systemd-resolved, Pi-hole, AdGuard) or privileged: the rest of
        fakecloud still serves, and the log and /api/status say why and what to do."""
        bind, port = self._settings.bind_address, self._settings.dns_port
        self._not_running = {
            "error": describe_bind_error(error, bind),
            "fix": bind_error_fix(error, bind),
        }
        log.error(
            "the DNS shim is NOT running: cannot listen on %s port %d: %s. "
            "Everything else keeps serving.",
            bind,
            port,
            self.failure,
        )

    @staticmethod
    def _bind_checked(bind: str) -> None:
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            raise UserError(f"bind_address {bind!r} is not an IP address") from None

    def _settings_upstreams(self) -> list[Upstream]:
        try:
            return [parse_upstream(text) for text in self._settings.dns_upstreams]
        except ValueError as error:
            raise UserError(f"dns_upstreams: {error}") from None

    async def _listen(self, bind: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.setblocking(False)
            udp.bind((bind, port))
        except OSError:
            udp.close()
            raise
        self._udp = udp
        self._port = udp.getsockname()[1]
        asyncio.get_running_loop().add_reader(udp, self._on_udp_readable)
        self._tcp = await asyncio.start_server(
            self._serve_tcp, bind, self._port, limit=MAX_QUERY_BYTES
        )

    def _on_udp_readable(self) -> None:
        """Drain a bounded batch of datagrams per wake-up.

        asyncio's datagram transport reads one datagram per event-loop turn; reading a batch
        roughly doubles throughput under load, and the bound keeps TCP clients and forwarded
        answers served in between.
        """
        udp = self._udp
        if udp is None:
            return
        for _ in range(_DATAGRAMS_PER_WAKEUP):
            try:
                # One byte more than any acceptable query, so an oversized one is still noticed.
                data, addr = udp.recvfrom(MAX_QUERY_BYTES + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                # ICMP errors for earlier replies (client gone): the socket stays usable.
                log.debug("DNS UDP socket reported %s", error)
                continue
            self._handle_datagram(data, addr)

    def _handle_datagram(self, data: bytes, addr: tuple[Any, ...]) -> None:
        peer = str(addr[0])
        reply, forward = self._classify(data, peer, "udp")
        if reply is not None:
            self._send_udp(reply, addr)
        elif forward is not None:
            if len(self._tasks) >= self._max_pending_forwards:
                # Security consideration: a flood of uncached names must not open unbounded
                # upstream sockets; the client will retry.
                self.counters.overloaded += 1
                return
            task = asyncio.create_task(self._forward_udp(data, forward, addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _send_udp(self, reply: bytes, addr: tuple[Any, ...]) -> None:
        if self._udp is None:
            return
        try:
            self._udp.sendto(reply, addr)
        except (BlockingIOError, InterruptedError):
            # The send buffer is full: drop, as a router would; the client retries.
            self.counters.dropped += 1
        except OSError as error:
            log.debug("DNS UDP reply to %s failed: %s", addr[0], error)

    async def _forward_udp(
        self, data: bytes, forward: tuple[Message, Question], addr: tuple[Any, ...]
    ) -> None:
        message, _ = forward
        reply = await self._forward(data, *forward)
        if len(reply) > message.reply_size_limit:
            reply = truncated_copy(reply, parse_message(reply))
        self._send_udp(reply, addr)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peer = str(writer.get_extra_info("peername")[0])
        held = self._tcp_per_client.get(peer, 0)
        if len(self._tcp_handlers) >= self._max_tcp_connections or task is None:
            self.counters.tcp_connections_rejected += 1
            writer.transport.abort()
            return
        if held >= self._max_tcp_per_client:
            self.counters.tcp_client_share_rejected += 1
            writer.transport.abort()
            return
        self._tcp_handlers.add(task)
        self._tcp_per_client[peer] = held + 1
        try:
            # Security consideration: the whole connection has a deadline, not only each
            # message, so a client sending one query just inside the idle limit, again and
            # again, still gives its slot back.
            async with asyncio.timeout(self._settings.dns_tcp_connection_seconds) as deadline:
                await self._tcp_session(reader, writer, peer)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            if deadline.expired():
                self.counters.tcp_connections_expired += 1
        finally:
            self._tcp_handlers.discard(task)
            remaining = self._tcp_per_client.pop(peer) - 1
            if remaining:
                self._tcp_per_client[peer] = remaining
            writer.transport.abort()

    async def _tcp_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        """Answer length-prefixed queries in order until the client goes quiet or misbehaves."""
        while True:
            # Security consideration: each message must arrive whole within the idle limit,
            # so a client trickling bytes cannot hold a connection slot for long.
            async with asyncio.timeout(self._tcp_idle_timeout):
                (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                if length > MAX_QUERY_BYTES:
                    self.counters.dropped += 1
                    return
                data = await reader.readexactly(length)
            reply, forward = self._classify(data, peer, "tcp")
            if forward is not None:
                reply = await self._forward(data, *forward)
            if reply is None:
                continue
            writer.write(_LENGTH.pack(len(reply)) + reply)
            async with asyncio.timeout(self._tcp_idle_timeout):
                await writer.drain()

    # --- deciding ------------------------------------------------------------------------

    def _classify(
        self, data: bytes, peer: str, transport: Literal["udp", "tcp"]
    ) -> tuple[bytes | None, tuple[Message, Question] | None]:
        """Either a reply to send now (or None: drop), or the query to forward upstream."""
        try:
            header = parse_header(data)
        except DnsWireError:
            self.counters.dropped += 1
            return None, None
        if header.is_response:
            # Security consideration: never answer answers, or two servers could ping-pong.
            self.counters.dropped += 1
            return None, None
        self.counters.queries += 1
        if not self._is_allowed(peer):
            # Security consideration: never an open resolver for the internet.
            self.counters.refused += 1
            return self._reject(header, peer, Rcode.REFUSED), None
        if header.opcode != OPCODE_QUERY:
            self.counters.notimp += 1
            return self._reject(header, peer, Rcode.NOTIMP), None
        try:
            if len(data) > MAX_QUERY_BYTES:
                raise DnsWireError(f"{len(data)} bytes is too long for a query")
            message = parse_message(data)
            question = message.question
            if header.qdcount != 1 or header.ancount or header.nscount or question is None:
                raise DnsWireError("a query must ask exactly one question and carry no answers")
        except DnsWireError as error:
            self.counters.formerr += 1
            self._record_bad_packet(peer, transport, data, str(error))
            return self._reject(header, peer, Rcode.FORMERR), None
        facts = self._facts(question)
        if facts.vendor:
            self._note_vendor_query(peer, facts.name, question, facts)
        if facts.redirect:
            self.counters.redirected += 1
            answers = self._broker_answers if facts.name == self._broker_name else self._answers
            return answers.redirected(data, message, question), None
        cached = self._cache.get(cache_key(question))
        if cached is not None:
            self.counters.cache_hits += 1
            reply = with_id(cached, header.id)
            if transport == "udp" and len(reply) > message.reply_size_limit:
                reply = truncated_copy(reply, parse_message(reply))
            return reply, None
        return None, (message, question)

    def _reject(self, header: Header, peer: str, rcode: Rcode) -> bytes | None:
        """An error reply, unless this client already had its share of them this second.

        Security consideration: error replies go to whatever source address a packet claims,
        so unlimited ones would make the shim a reflector and spend its time on a flood.
        """
        second = int(time.monotonic())
        budget = self._error_budget.get(peer)
        if budget is None or budget[0] != second:
            budget = [second, 0]
            self._error_budget.add(peer, budget)
        budget[1] += 1
        if budget[1] > self._error_replies_per_second:
            self.counters.rate_limited += 1
            return None
        return self._answers.rejection(header, rcode)

    async def _forward(self, data: bytes, message: Message, question: Question) -> bytes:
        self.counters.forwarded += 1
        result = await self._forwarder.resolve(data, question)
        if result is None:
            self.counters.servfail += 1
            return self._answers.reply(message.header, message, Rcode.SERVFAIL)
        reply, reply_message = result
        self._cache.put(cache_key(question), reply, reply_message)
        return with_id(reply, message.header.id)

    def _is_allowed(self, peer: str) -> bool:
        allowed = self._peer_allowed.get(peer)
        if allowed is None:
            allowed = address_in(peer, self._allowed)
            self._peer_allowed.add(peer, allowed)
        return allowed

    def _facts(self, question: Question) -> _NameFacts:
        # Keyed by the raw labels: the common repeat query skips building the text form.
        facts = self._name_facts.get(question.labels)
        if facts is None:
            catalogue = self._catalogue
            name = question.name
            facts = _NameFacts(
                name,
                catalogue.should_redirect(name),
                catalogue.is_vendor_name(name),
                catalogue.is_listed(name),
            )
            self._name_facts.add(question.labels, facts)
        return facts

    def _note_vendor_query(
        self, peer: str, name: str, question: Question, facts: _NameFacts
    ) -> None:
        if (peer, name) not in self._greeted:
            self._greeted.add((peer, name), True)
            outcome = (
                f"answered with {self._settings.effective_announce_address}"
                if facts.redirect
                else "passed on to the real DNS"
            )
            log.info("%s asked for %s (%s)", peer, name, outcome)
        if facts.listed or name in self._discovered or len(self._discovered) >= _MAX_DISCOVERED:
            return
        self._discovered[name] = peer
        log.warning(
            "discovered vendor name %s (asked by %s) that the catalogue does not list; it was %s",
            name,
            peer,
            "redirected by a wildcard entry" if facts.redirect else "forwarded",
        )
        if self._recorder is not None:
            self._recorder.record("dns", peer=peer, name=name, qtype=question.qtype)

    def _record_bad_packet(
        self, peer: str, transport: Literal["udp", "tcp"], data: bytes, problem: str
    ) -> None:
        """Keep the first malformed packet from each client as evidence; a flood adds nothing."""
        if self._recorder is None or peer in self._recorded_bad_peers:
            return
        self._recorded_bad_peers.add(peer, True)
        self._recorder.record(
            "dns", data=data[:512], peer=peer, transport=transport, problem=problem
        )
