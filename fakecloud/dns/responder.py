"""What the shim replies to each query: who may ask, redirected names, the cache, forwarding.

No sockets here: the UDP and TCP servers hand every query to a Responder and send what it
returns; only forwarding waits on the network (through the Forwarder).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from fakecloud.catalogue import WILDCARD_PROBE_LABEL, Catalogue
from fakecloud.core.config import Settings, address_in
from fakecloud.core.recording import Recorder
from fakecloud.dns.answers import LocalAnswers
from fakecloud.dns.upstream import Forwarder, ResponseCache, cache_key
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

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Labels = tuple[bytes, ...]
Transport = Literal["udp", "tcp"]
# A query to send upstream: its parsed message and its one question.
Forward = tuple[Message, Question]

# Queries are small; anything bigger than this is not a question a camera or a resolver asks.
MAX_QUERY_BYTES = 4096
# Bounded memories: a flood of distinct names or clients can only push old entries out.
_MEMORY_ENTRIES = 4096
_MAX_DISCOVERED = 256
_MAX_ASKERS = 50  # first asks kept for the setup page, newest last


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


class Responder:
    """Decides the reply to each query; the listeners own the sockets."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        recorder: Recorder | None,
        *,
        allowed_networks: list[Network],
        cache_entries: int,
        error_replies_per_second: int,
    ) -> None:
        self._catalogue = catalogue
        self._recorder = recorder
        self._allowed = allowed_networks
        self._announce_address = settings.effective_announce_address
        self._answers = LocalAnswers(settings.effective_announce_address, settings.dns_ttl)
        # The login redirect's target may live at an address of its own (docs/broker.md).
        self._broker_name = settings.broker_hostname
        self._broker_answers = LocalAnswers(settings.effective_broker_address, settings.dns_ttl)
        self.forwarder = Forwarder([], settings.dns_upstream_timeout)
        self.cache = ResponseCache(cache_entries)
        self.counters = DnsCounters()
        self.discovered: dict[str, str] = {}  # name -> first client that asked
        # The latest first asks of a vendor name per client, what the log's "asked for" lines
        # say, for the setup page: (when, client, name, redirected).
        self.askers: deque[tuple[str, str, str, bool]] = deque(maxlen=_MAX_ASKERS)
        self._name_facts: _BoundedMemory[Labels, _NameFacts] = _BoundedMemory(_MEMORY_ENTRIES)
        self._peer_allowed: _BoundedMemory[str, bool] = _BoundedMemory(_MEMORY_ENTRIES)
        self._greeted: _BoundedMemory[tuple[str, str], bool] = _BoundedMemory(_MEMORY_ENTRIES)
        self._recorded_bad_peers: _BoundedMemory[str, bool] = _BoundedMemory(_MEMORY_ENTRIES)
        self._error_budget: _BoundedMemory[str, list[int]] = _BoundedMemory(_MEMORY_ENTRIES)
        self._error_replies_per_second = error_replies_per_second

    def decide(
        self, data: bytes, peer: str, transport: Transport
    ) -> tuple[bytes | None, Forward | None]:
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
        cached = self.cache.get(cache_key(question))
        if cached is not None:
            self.counters.cache_hits += 1
            reply = with_id(cached, header.id)
            if transport == "udp" and len(reply) > message.reply_size_limit:
                reply = truncated_copy(reply, parse_message(reply))
            return reply, None
        return None, (message, question)

    async def forward(self, data: bytes, message: Message, question: Question) -> bytes:
        """The upstream answer to a query decide() passed on (SERVFAIL when none answers)."""
        self.counters.forwarded += 1
        result = await self.forwarder.resolve(data, question)
        if result is None:
            self.counters.servfail += 1
            return self._answers.reply(message.header, message, Rcode.SERVFAIL)
        reply, reply_message = result
        self.cache.put(cache_key(question), reply, reply_message)
        return with_id(reply, message.header.id)

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
        if name.startswith(f"{WILDCARD_PROBE_LABEL}."):
            return  # the doctor checking a wildcard entry: not a device, not a discovery
        if (peer, name) not in self._greeted:
            self._greeted.add((peer, name), True)
            outcome = (
                f"answered with {self._announce_address}"
                if facts.redirect
                else "passed on to the real DNS"
            )
            log.info("%s asked for %s (%s)", peer, name, outcome)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self.askers.append((now, peer, name, facts.redirect))
        if facts.listed or name in self.discovered or len(self.discovered) >= _MAX_DISCOVERED:
            return
        self.discovered[name] = peer
        log.warning(
            "discovered vendor name %s (asked by %s) that the catalogue does not list; it was %s",
            name,
            peer,
            "redirected by a wildcard entry" if facts.redirect else "forwarded",
        )
        if self._recorder is not None:
            self._recorder.record("dns", peer=peer, name=name, qtype=question.qtype)

    def _record_bad_packet(
        self, peer: str, transport: Transport, data: bytes, problem: str
    ) -> None:
        """Keep the first malformed packet from each client as evidence; a flood adds nothing."""
        if self._recorder is None or peer in self._recorded_bad_peers:
            return
        self._recorded_bad_peers.add(peer, True)
        self._recorder.record(
            "dns", data=data[:512], peer=peer, transport=transport, problem=problem
        )
