"""Answers the shim writes itself: redirected names and error replies."""

from __future__ import annotations

import ipaddress
import struct

from dnslib import DNSHeader, DNSLabel, DNSQuestion, DNSRecord

from fakecloud.dns.wire import (
    CLASS_IN,
    FLAG_AA,
    FLAG_QR,
    FLAG_RA,
    FLAG_RD,
    HEADER,
    HEADER_SIZE,
    TYPE_A,
    TYPE_AAAA,
    Header,
    Message,
    Question,
    Rcode,
)

_ANSWER_FLAGS = FLAG_QR | FLAG_AA | FLAG_RA
_OPCODE_MASK = 0x7800
# The answer's owner is a compression pointer to the question name, which always sits at
# offset 12 (just past the header).
_POINTER_TO_QUESTION = 0xC000 | HEADER_SIZE


class LocalAnswers:
    """Builds replies for redirected names (the announce address) and for refused or bad queries.

    Answers for redirected names are the hot path (every camera lookup), so they are spliced
    from the query's own validated question bytes and a precomputed record; the tests check
    them against dnslib's encoding. Replies that carry a question otherwise (SERVFAIL) are
    built by dnslib.
    """

    def __init__(self, announce_address: str, ttl: int) -> None:
        address = ipaddress.ip_address(announce_address)
        self._address_type = TYPE_A if address.version == 4 else TYPE_AAAA
        self._answer_record = (
            struct.pack(
                "!HHHIH",
                _POINTER_TO_QUESTION,
                self._address_type,
                CLASS_IN,
                ttl,
                len(address.packed),
            )
            + address.packed
        )

    def redirected(self, query: bytes, message: Message, question: Question) -> bytes:
        """Answer a query for a redirected name: the address for its own type, else no data."""
        header = message.header
        flags = _ANSWER_FLAGS | (header.flags & FLAG_RD)
        question_bytes = query[HEADER_SIZE : message.question_end]
        if question.qtype == self._address_type and question.qclass == CLASS_IN:
            return HEADER.pack(header.id, flags, 1, 1, 0, 0) + question_bytes + self._answer_record
        # Every other type of a redirected name exists but has no data (NOERROR, no answer).
        return HEADER.pack(header.id, flags, 1, 0, 0, 0) + question_bytes

    @staticmethod
    def rejection(header: Header, rcode: Rcode) -> bytes:
        """A header-only error reply (FORMERR, NOTIMP, REFUSED).

        These answer hostile or foreign traffic, so they are packed directly: the cheapest
        possible reply keeps a flood from crowding out honest clients.
        """
        flags = FLAG_QR | FLAG_RA | (header.flags & (_OPCODE_MASK | FLAG_RD)) | int(rcode)
        return HEADER.pack(header.id, flags, 0, 0, 0, 0)

    @staticmethod
    def reply(header: Header, message: Message | None, rcode: Rcode) -> bytes:
        """A reply with no records: echoes the id, the RD bit and the question when it is known."""
        record = DNSRecord(
            DNSHeader(
                id=header.id,
                qr=1,
                opcode=header.opcode,
                aa=0,
                rd=int(bool(header.flags & FLAG_RD)),
                ra=1,
                rcode=int(rcode),
            )
        )
        question = message.question if message else None
        if question is not None:
            record.add_question(
                DNSQuestion(DNSLabel(list(question.labels)), question.qtype, question.qclass)
            )
        return bytes(record.pack())
