"""Locally authored answers: the spliced fast path says exactly what dnslib would."""

from __future__ import annotations

from dnslib import EDNS0, QTYPE, RR, A, DNSRecord

from fakecloud.dns.answers import LocalAnswers
from fakecloud.dns.wire import Rcode, parse_message


def test_fast_path_answer_equals_the_dnslib_answer() -> None:
    query = DNSRecord.question("WWW.seedonk.com", "A")
    query.header.id = 999
    query.add_ar(EDNS0(udp_len=4096))
    packed = query.pack()
    message = parse_message(packed)
    assert message.question is not None
    fast = DNSRecord.parse(
        LocalAnswers("192.0.2.9", 60).redirected(packed, message, message.question)
    )
    expected = query.reply(ra=1, aa=1)
    expected.ar = []
    expected.header.arcount = 0
    expected.add_answer(RR("WWW.seedonk.com", QTYPE.A, ttl=60, rdata=A("192.0.2.9")))
    assert fast == expected


def test_error_reply_echoes_id_flags_and_question() -> None:
    query = DNSRecord.question("x.test", "MX")
    query.header.id = 5
    message = parse_message(query.pack())
    reply = DNSRecord.parse(
        LocalAnswers("192.0.2.9", 60).reply(message.header, message, Rcode.SERVFAIL)
    )
    assert reply.header.id == 5 and reply.header.rcode == Rcode.SERVFAIL and reply.header.qr == 1
    assert reply.header.rd == 1 and reply.header.aa == 0
    assert str(reply.q.qname) == "x.test." and reply.q.qtype == QTYPE.MX


def test_error_reply_without_question() -> None:
    query = DNSRecord.question("x.test")
    message = parse_message(query.pack())
    reply = DNSRecord.parse(
        LocalAnswers("192.0.2.9", 60).reply(message.header, None, Rcode.REFUSED)
    )
    assert reply.header.rcode == Rcode.REFUSED and reply.questions == []


def test_no_data_answer_equals_the_dnslib_answer() -> None:
    query = DNSRecord.question("cam.seedonk.com", "AAAA")
    packed = query.pack()
    message = parse_message(packed)
    assert message.question is not None
    spliced = LocalAnswers("192.0.2.9", 60).redirected(packed, message, message.question)
    assert DNSRecord.parse(spliced) == query.reply(ra=1, aa=1)


def test_rejection_is_header_only_and_keeps_the_opcode() -> None:
    query = DNSRecord.question("x.test")
    query.header.opcode = 4  # NOTIFY
    query.header.id = 11
    message = parse_message(query.pack())
    reply = DNSRecord.parse(LocalAnswers.rejection(message.header, Rcode.NOTIMP))
    assert (reply.header.id, reply.header.opcode, reply.header.rcode) == (11, 4, Rcode.NOTIMP)
    assert reply.header.qr == 1 and reply.questions == []
