"""Upstream list parsing, resolv.conf defaults and the TTL cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from dnslib import QTYPE, RR, A, DNSRecord

from fakecloud.dns.upstream import (
    ResponseCache,
    Upstream,
    cache_key,
    default_upstreams,
    parse_upstream,
    resolv_conf_upstreams,
)
from fakecloud.dns.wire import parse_message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", Upstream("192.0.2.1", 53)),
        (" 192.0.2.1:5353 ", Upstream("192.0.2.1", 5353)),
        ("::1", Upstream("::1", 53)),
        ("[2001:db8::1]:5300", Upstream("2001:db8::1", 5300)),
        ("[::1]", Upstream("::1", 53)),
    ],
)
def test_parse_upstream(text: str, expected: Upstream) -> None:
    assert parse_upstream(text) == expected


@pytest.mark.parametrize("text", ["dns.google", "1.2.3.4:0", "1.2.3.4:x", "[::1", "[::1]x", ""])
def test_parse_upstream_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="upstream"):
        parse_upstream(text)


def test_upstream_text_form() -> None:
    assert str(Upstream("::1", 53)) == "[::1]:53"
    assert str(Upstream("192.0.2.1", 5353)) == "192.0.2.1:5353"


def test_resolv_conf_nameservers() -> None:
    text = "# comment\nsearch lan\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver bad\n"
    assert resolv_conf_upstreams(text) == [Upstream("192.0.2.53"), Upstream("fe80::1")]


def test_default_upstreams_skip_the_shim_itself(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\nnameserver 192.0.2.53\n")
    assert default_upstreams("0.0.0.0", 53, conf) == [Upstream("192.0.2.53")]
    assert default_upstreams("192.0.2.53", 53, conf) == [Upstream("127.0.0.1")]
    assert default_upstreams("0.0.0.0", 1053, conf) == [
        Upstream("127.0.0.1"),
        Upstream("192.0.2.53"),
    ]
    assert default_upstreams("0.0.0.0", 53, tmp_path / "missing") == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reply_bytes(name: str, ttl: int, rcode: int = 0) -> bytes:
    reply = DNSRecord.question(name).reply()
    reply.header.rcode = rcode
    if ttl >= 0:
        reply.add_answer(RR(name, QTYPE.A, ttl=ttl, rdata=A("192.0.2.1")))
    return reply.pack()


def store(cache: ResponseCache, name: str, ttl: int, rcode: int = 0) -> None:
    data = reply_bytes(name, ttl, rcode)
    message = parse_message(data)
    assert message.question is not None
    cache.put(cache_key(message.question), data, message)


def key(name: str) -> tuple[tuple[bytes, ...], int, int]:
    message = parse_message(DNSRecord.question(name).pack())
    assert message.question is not None
    return cache_key(message.question)


def test_cache_counts_ttls_down_and_expires() -> None:
    clock = Clock()
    cache = ResponseCache(clock=clock)
    store(cache, "a.test", 30)
    clock.now += 10.5
    cached = cache.get(key("A.TEST"))
    assert cached is not None and DNSRecord.parse(cached).rr[0].ttl == 20
    clock.now += 20
    assert cache.get(key("a.test")) is None
    assert len(cache) == 0


def test_cache_skips_what_it_must_not_keep() -> None:
    cache = ResponseCache(clock=Clock())
    store(cache, "zero.test", 0)
    store(cache, "servfail.test", 30, rcode=2)
    store(cache, "empty.test", -1)
    assert len(cache) == 0


def test_cache_is_bounded_and_caps_ttls() -> None:
    clock = Clock()
    cache = ResponseCache(max_entries=2, max_ttl=5, clock=clock)
    for name in ("a.test", "b.test", "c.test"):
        store(cache, name, 300)
    assert len(cache) == 2 and cache.get(key("a.test")) is None
    clock.now += 6
    assert cache.get(key("c.test")) is None
