"""Structural check of DNS messages, done before anything else looks at a packet.

Pure code: bytes in, a `Message` summary out, `DnsWireError` on anything malformed. It walks every
section once, with hard bounds, so that hostile packets (truncation, compression-pointer loops,
long pointer chains, labels past the end) are rejected in time proportional to their length.

Security consideration: dnslib's own name decoder follows a pointer to any earlier offset and
recurses once per hop, so a two-pointer cycle (`C1 C1 C0` at offset 0x1C0) ends in RecursionError
and long chains cost quadratic time. Nothing untrusted reaches dnslib's decoder: queries are
summarised here, and forwarded replies are relayed as bytes after this check.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct("!HHHHHH")
HEADER_SIZE = HEADER.size
_RR_FIXED = struct.Struct("!HHIH")
_TTL = struct.Struct("!I")
_ID = struct.Struct("!H")

MAX_NAME_OCTETS = 255
# One hop is all a well-compressed name needs; a few more tolerate odd but honest encoders.
MAX_POINTER_HOPS = 16
MIN_UDP_PAYLOAD = 512
# Security consideration: the DNS Flag Day 2020 size. Honouring an advertised EDNS size of 65535
# would let a spoofed small query reflect a huge forwarded answer (ANY) at a victim; bigger
# answers are truncated and the client asks again over TCP, which a spoofer cannot.
MAX_UDP_PAYLOAD = 1232

TYPE_A = 1
TYPE_AAAA = 28
TYPE_OPT = 41
CLASS_IN = 1

FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080
OPCODE_QUERY = 0


class Rcode(IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5


class DnsWireError(ValueError):
    """The bytes are not a well-formed DNS message."""


@dataclass(frozen=True, slots=True)
class Header:
    id: int
    flags: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_QR)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)


@dataclass(frozen=True, slots=True)
class Question:
    labels: tuple[bytes, ...]
    qtype: int
    qclass: int

    @property
    def name(self) -> str:
        """Lower-case text form, safe to log: odd octets appear as \\DDD, as dig shows them."""
        return name_text(self.labels)

    def same_as(self, other: Question) -> bool:
        """Equal ignoring ASCII case (resolvers may randomise case, RFC 4343)."""
        return (
            self.qtype == other.qtype
            and self.qclass == other.qclass
            and [label.lower() for label in self.labels] == [lab.lower() for lab in other.labels]
        )


@dataclass(frozen=True, slots=True)
class Message:
    header: Header
    questions: tuple[Question, ...]
    question_end: int  # offset just past the question section
    ttl_offsets: tuple[int, ...]  # where each resource record's TTL sits (OPT excluded)
    ttls: tuple[int, ...]
    udp_payload_size: int | None  # from an EDNS OPT record, if any

    @property
    def question(self) -> Question | None:
        return self.questions[0] if self.questions else None

    @property
    def reply_size_limit(self) -> int:
        """The largest UDP answer to send: what the sender accepts, within 512..1232 bytes."""
        return min(MAX_UDP_PAYLOAD, max(MIN_UDP_PAYLOAD, self.udp_payload_size or 0))


def parse_header(data: bytes) -> Header:
    if len(data) < HEADER_SIZE:
        raise DnsWireError(f"{len(data)} bytes is shorter than a DNS header")
    return Header(*HEADER.unpack_from(data))


def parse_message(data: bytes) -> Message:
    """Check every section of a message and summarise it."""
    data = bytes(data)  # labels become hashable even when a caller passes a bytearray
    header = parse_header(data)
    offset = HEADER_SIZE
    questions: list[Question] = []
    for _ in range(header.qdcount):
        labels, offset = _read_name(data, offset)
        if offset + 4 > len(data):
            raise DnsWireError("question ends before its type and class")
        qtype, qclass = struct.unpack_from("!HH", data, offset)
        offset += 4
        questions.append(Question(labels, qtype, qclass))
    question_end = offset
    ttl_offsets: list[int] = []
    ttls: list[int] = []
    udp_payload_size: int | None = None
    for _ in range(header.ancount + header.nscount + header.arcount):
        labels, offset = _read_name(data, offset)
        if offset + _RR_FIXED.size > len(data):
            raise DnsWireError("resource record ends inside its fixed fields")
        rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(data, offset)
        if rtype == TYPE_OPT:
            if udp_payload_size is not None or labels:
                raise DnsWireError("more than one OPT record, or one not owned by the root")
            udp_payload_size = rclass
        else:
            ttl_offsets.append(offset + 4)
            ttls.append(ttl)
        offset += _RR_FIXED.size + rdlength
        if offset > len(data):
            raise DnsWireError("resource record data runs past the end")
    return Message(
        header,
        tuple(questions),
        question_end,
        tuple(ttl_offsets),
        tuple(ttls),
        udp_payload_size,
    )


def _read_name(data: bytes, offset: int) -> tuple[tuple[bytes, ...], int]:
    """Labels of the name at offset, and the offset just past it.

    Every pointer must point before the start of the stretch that contains it, so the walk
    only moves backwards and always ends; the hop and length caps bound it further.
    """
    labels: list[bytes] = []
    octets = 1  # the root label
    hops = 0
    end: int | None = None
    stretch_start = position = offset
    size_of_data = len(data)
    while True:
        if position >= size_of_data:
            raise DnsWireError("name runs past the end of the message")
        length = data[position]
        kind = length & 0xC0
        if kind == 0xC0:
            if position + 1 >= size_of_data:
                raise DnsWireError("compression pointer cut short")
            target = ((length & 0x3F) << 8) | data[position + 1]
            if end is None:
                end = position + 2
            hops += 1
            if target >= stretch_start or hops > MAX_POINTER_HOPS:
                raise DnsWireError("compression pointer loops, points forwards or chains too far")
            stretch_start = position = target
            continue
        if kind:
            raise DnsWireError(f"label type {kind:#x} is not supported")
        if length == 0:
            return tuple(labels), (position + 1 if end is None else end)
        octets += length + 1
        if octets > MAX_NAME_OCTETS:
            raise DnsWireError("name is longer than 255 octets")
        label_end = position + 1 + length
        if label_end > size_of_data:
            raise DnsWireError("label runs past the end of the message")
        labels.append(data[position + 1 : label_end])
        position = label_end


_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_*")


def _octet_text(octet: int) -> str:
    lowered = octet + 0x20 if 0x41 <= octet <= 0x5A else octet
    return chr(lowered) if lowered in _PLAIN else f"\\{octet:03d}"


_OCTET_TEXT = tuple(_octet_text(octet) for octet in range(256))


def name_text(labels: tuple[bytes, ...]) -> str:
    """Text form of a name for matching and logging.

    Security consideration: octets other than letters, digits, '-', '_' and '*' (dots inside a
    label, control characters, newlines) are escaped, so a name can neither fake a subdomain
    match nor forge log lines.
    """
    if not labels:
        return "."
    return ".".join("".join([_OCTET_TEXT[octet] for octet in label]) for label in labels)


def with_id(data: bytes, message_id: int) -> bytes:
    return _ID.pack(message_id) + data[2:]


def with_ttls_reduced(data: bytes, ttl_offsets: tuple[int, ...], elapsed: int) -> bytes:
    """A copy whose record TTLs are each lowered by `elapsed` seconds (never below zero)."""
    patched = bytearray(data)
    for offset in ttl_offsets:
        (ttl,) = _TTL.unpack_from(patched, offset)
        _TTL.pack_into(patched, offset, max(0, ttl - elapsed))
    return bytes(patched)


def truncated_copy(data: bytes, message: Message) -> bytes:
    """Header and question only, with TC set: tells a UDP client to ask again over TCP."""
    header = message.header
    flags = header.flags | FLAG_TC
    return (
        HEADER.pack(header.id, flags, header.qdcount, 0, 0, 0)
        + data[HEADER_SIZE : message.question_end]
    )
