from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.frontdoor.sniff import (
    DECISION_BYTES,
    HTTP_METHODS,
    Traffic,
    classify,
    route_verdict,
    tls_record_length,
)


@pytest.mark.parametrize(
    ("prefix", "verdict"),
    [
        (b"", None),
        (b"\x16", None),
        (b"\x16\x03\x01\x02\x00\x01", Traffic.TLS),
        (b"\x16\x03", Traffic.TLS),
        (b"\x16\x02", Traffic.UNKNOWN),
        (b"A", None),
        (b"A\x01", Traffic.CXNET),
        (b"A\x03" + bytes(25), Traffic.CXNET),
        (b"A\x00", Traffic.UNKNOWN),
        (b"A\x04", Traffic.UNKNOWN),
        (b"AB", Traffic.UNKNOWN),
        (b"G", None),
        (b"GET", None),
        (b"GET ", Traffic.HTTP),
        (b"GET /healthz HTTP/1.1\r\n", Traffic.HTTP),
        (b"OPTIONS", None),
        (b"OPTIONS * HTTP/1.1", Traffic.HTTP),
        (b"PATCH /x", Traffic.HTTP),
        (b"GETX", Traffic.UNKNOWN),
        (b"get / HTTP/1.1", Traffic.UNKNOWN),
        (b"CONNECT host:443 HTTP/1.1", Traffic.UNKNOWN),
        (b"SDNK\x01\x00\x00", Traffic.UNKNOWN),
        (b"\x00", None),
        (b"\x00\x2cSDNK", Traffic.RELAY),
        (b"\x07\xffSDNK\x01", Traffic.RELAY),
        (b"\x00\x2cSDNX", Traffic.UNKNOWN),
        (b"\x08\x00SDNK", Traffic.UNKNOWN),
    ],
)
def test_classify(prefix: bytes, verdict: Traffic | None) -> None:
    assert classify(prefix) == verdict


@pytest.mark.parametrize("method", HTTP_METHODS)
def test_every_method_is_http(method: bytes) -> None:
    assert classify(method + b" / HTTP/1.1\r\n") is Traffic.HTTP
    assert classify(method) is None


@given(st.binary(max_size=64), st.binary(max_size=64))
def test_a_verdict_never_changes_with_more_bytes(prefix: bytes, more: bytes) -> None:
    verdict = classify(prefix)
    if verdict is not None:
        assert classify(prefix + more) is verdict


@given(st.binary(min_size=DECISION_BYTES, max_size=64))
def test_eight_bytes_always_decide(prefix: bytes) -> None:
    assert classify(prefix) is not None


def test_tls_record_length() -> None:
    assert tls_record_length(b"\x16\x03\x01\x02") is None
    assert tls_record_length(b"\x16\x03\x01\x02\x00") == 5 + 512


HELLO_HEAD = b"\x16\x03\x01\x00\x40"  # a TLS record header announcing 64 bytes of body


@pytest.mark.parametrize(
    ("buffered", "inside_tls", "verdict"),
    [
        (HELLO_HEAD + bytes(10), False, None),  # the ClientHello is not whole yet
        (HELLO_HEAD + bytes(64), False, Traffic.TLS),
        (HELLO_HEAD + bytes(10), True, Traffic.UNKNOWN),  # TLS inside TLS
        (b"\x16\x03\x01", False, None),  # no record length yet
        (b"\x16\x03\x01\xff\xff" + bytes(4091), False, Traffic.TLS),  # at the sniff cap
        (b"A\x01", True, Traffic.CXNET),
        (b"GE", False, None),
    ],
)
def test_route_verdict(buffered: bytes, inside_tls: bool, verdict: Traffic | None) -> None:
    assert route_verdict(buffered, inside_tls=inside_tls, max_bytes=4096) == verdict


@given(st.binary(max_size=200), st.booleans(), st.integers(min_value=1, max_value=300))
def test_route_verdict_is_classify_except_for_tls(
    buffered: bytes, inside_tls: bool, max_bytes: int
) -> None:
    verdict = route_verdict(buffered, inside_tls=inside_tls, max_bytes=max_bytes)
    head_verdict = classify(buffered[:DECISION_BYTES])
    if head_verdict is Traffic.TLS:
        assert verdict in (None, Traffic.UNKNOWN if inside_tls else Traffic.TLS)
    else:
        assert verdict is head_verdict
