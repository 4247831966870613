"""The structural checker: exact on good messages, DnsWireError (and nothing else) on bad ones."""

from __future__ import annotations

import struct
import time

import pytest
from dnslib import EDNS0, QTYPE, RR, A, DNSLabel, DNSQuestion, DNSRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.dns.wire import (
    DnsWireError,
    name_text,
    parse_header,
    parse_message,
    truncated_copy,
    with_id,
    with_ttls_reduced,
)

HEADER = struct.Struct("!HHHHHH")


def answer_message() -> bytes:
    query = DNSRecord.question("Server.Seedonk.com", "A")
    query.add_ar(EDNS0(udp_len=1232))
    reply = query.reply()
    reply.add_answer(RR("server.seedonk.com", QTYPE.A, ttl=100, rdata=A("192.0.2.1")))
    reply.add_answer(RR("server.seedonk.com", QTYPE.A, ttl=40, rdata=A("192.0.2.2")))
    reply.add_ar(EDNS0(udp_len=1232))
    return reply.pack()


def test_summarises_a_compressed_answer() -> None:
    message = parse_message(answer_message())
    assert message.header.is_response
    assert message.question is not None
    assert message.question.name == "server.seedonk.com"
    assert message.question.labels == (b"Server", b"Seedonk", b"com")
    assert message.ttls == (100, 40)
    assert message.udp_payload_size == 1232 and message.reply_size_limit == 1232


def test_ttls_are_lowered_in_place_and_never_below_zero() -> None:
    data = answer_message()
    lowered = with_ttls_reduced(data, parse_message(data).ttl_offsets, 50)
    assert [rr.ttl for rr in DNSRecord.parse(lowered).rr] == [50, 0]


def test_id_and_truncated_copy() -> None:
    data = answer_message()
    assert parse_header(with_id(data, 77)).id == 77
    short = truncated_copy(data, parse_message(data))
    record = DNSRecord.parse(short)
    assert record.header.tc == 1 and not record.rr and str(record.q.qname) == "Server.Seedonk.com."


def test_names_are_escaped_for_logs() -> None:
    assert name_text((b"a.b", b"x\ny", b"OK")) == "a\\046b.x\\010y.ok"
    assert name_text(()) == "."


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x00" * 11,
        HEADER.pack(1, 0, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",  # points at itself
        HEADER.pack(1, 0, 1, 0, 0, 0) + b"\xc0\x20\x00\x01\x00\x01",  # points forwards
        HEADER.pack(1, 0, 1, 0, 0, 0) + b"\x40abc\x00\x00\x01\x00\x01",  # extended label type
        HEADER.pack(1, 0, 1, 0, 0, 0) + b"\x05ab",  # label past the end
        HEADER.pack(1, 0, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01",
        HEADER.pack(1, 0, 0, 1, 0, 0) + b"\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x09abc",
        HEADER.pack(1, 0, 0, 0, 0, 2) + b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00" * 2,
        HEADER.pack(1, 0, 65535, 0, 0, 0) + b"\x00\x00\x01\x00\x01",
    ],
)
def test_malformed_messages_are_rejected(packet: bytes) -> None:
    with pytest.raises(DnsWireError):
        parse_message(packet)


def test_a_two_pointer_cycle_is_rejected_quickly() -> None:
    # dnslib follows this cycle until Python's recursion limit: the reason for this module.
    # 218 one-letter labels lead to offset 0x1C0, where C1 C1 points to 0x1C1 and C1 C0 back.
    packet = HEADER.pack(7, 0x0100, 1, 0, 0, 0) + b"\x01a" * 218 + b"\xc1\xc1\xc0\x00\x01\x00\x01"
    with pytest.raises(RecursionError):
        DNSRecord.parse(packet)
    with pytest.raises(DnsWireError):
        parse_message(packet)


def test_a_long_pointer_chain_is_rejected_in_linear_time() -> None:
    # Each name points at the previous one: 20,000 hops if followed from the last.
    body = bytearray(b"\x01a\x00")
    for index in range(1, 20_000):
        target = 12 + (index - 1) * 2 if index > 1 else 12
        body += struct.pack("!H", 0xC000 | target)
    packet = HEADER.pack(1, 0, 0, 0, 0, 0) + bytes(body)
    count_questions = HEADER.pack(1, 0, 20_000, 0, 0, 0) + bytes(body)
    assert parse_message(packet).questions == ()
    started = time.monotonic()
    with pytest.raises(DnsWireError):
        parse_message(count_questions)
    assert time.monotonic() - started < 0.5


@given(st.binary(max_size=600))
@settings(max_examples=3000, deadline=None)
def test_fuzz_random_bytes_raise_only_dns_wire_error(data: bytes) -> None:
    try:
        parse_message(data)
    except DnsWireError:
        pass


@given(st.data())
@settings(max_examples=2000, deadline=None)
def test_fuzz_mutated_good_messages(data: st.DataObject) -> None:
    packet = bytearray(answer_message())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(packet) - 1))
        packet[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(packet)))
    mutated = bytes(packet[:cut])
    try:
        message = parse_message(mutated)
    except DnsWireError:
        return
    # Whatever passes the check is safe for dnslib's decoder apart from rdata it never reads.
    assert message.question_end <= len(mutated)
    assert all(offset + 4 <= len(mutated) for offset in message.ttl_offsets)
    with_ttls_reduced(mutated, message.ttl_offsets, 5)


names = st.lists(
    st.binary(min_size=1, max_size=20),
    min_size=1,
    max_size=5,
)


@given(names, st.integers(0, 65535), st.integers(1, 255))
@settings(max_examples=500, deadline=None)
def test_fuzz_dnslib_built_questions_round_trip(
    labels: list[bytes], ident: int, qtype: int
) -> None:
    record = DNSRecord(q=DNSQuestion(DNSLabel(labels), qtype))
    record.header.id = ident
    packed = record.pack()
    message = parse_message(packed)
    assert message.header.id == ident
    assert message.question is not None and message.question.qtype == qtype
    assert message.question_end == len(packed)
    assert message.question.labels == tuple(labels)
