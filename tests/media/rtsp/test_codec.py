"""The RTSP codec: requests cut from any byte split, limits, and hypothesis fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.media.rtsp.codec import (
    Interleaved,
    RtspError,
    RtspReader,
    RtspRequest,
    Transport,
    build_response,
    interleaved,
    parse_transport,
)

DESCRIBE = (
    b"DESCRIBE rtsp://127.0.0.1:8554/7 RTSP/1.0\r\nCSeq: 2\r\n"
    b"User-Agent: Lavf59.27.100\r\nAccept: application/sdp\r\n\r\n"
)
SET_PARAMETER = b"SET_PARAMETER rtsp://h/7 RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 5\r\n\r\nhello"


def test_a_request_and_interleaved_rtcp_in_one_read() -> None:
    rtcp = interleaved(1, b"\x81\xc9\x00\x07" + bytes(28))
    messages = RtspReader().feed(DESCRIBE + rtcp + SET_PARAMETER)
    assert len(messages) == 3
    describe, report, parameter = messages
    assert isinstance(describe, RtspRequest) and isinstance(parameter, RtspRequest)
    assert (describe.method, describe.cseq) == ("DESCRIBE", "2")
    assert describe.uri == "rtsp://127.0.0.1:8554/7"
    assert describe.header("user-agent") == "Lavf59.27.100"
    assert report == Interleaved(1, rtcp[4:])
    assert parameter.body == b"hello"


@given(st.lists(st.integers(1, len(DESCRIBE + SET_PARAMETER) - 1), unique=True, max_size=8))
def test_any_split_gives_the_same_requests(cuts: list[int]) -> None:
    data = DESCRIBE + SET_PARAMETER
    reader = RtspReader()
    messages = []
    for start, end in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)], strict=True):
        messages += reader.feed(data[start:end])
    assert messages == RtspReader().feed(data)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 505),
        (b"DESCRIBE  RTSP/1.0\r\n\r\n", 400),
        (b"OPTIONS * RTSP/1.0\r\nno colon here\r\n\r\n", 400),
        (b"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n", 400),
        (b"OPTIONS * RTSP/1.0\r\nContent-Length: 99999\r\n\r\n", 413),
        (b"OPTIONS * RTSP/1.0\r\n" + b"X: y\r\n" * 40 + b"\r\n", 431),
        (b"OPTIONS * RTSP/1.0\r\nX: " + b"y" * 9000, 431),
        (b"OPTIONS * RTSP/1.0\r\nX: \xff\r\n\r\n", 400),
    ],
)
def test_malformed_or_oversized_requests_are_refused(data: bytes, status: int) -> None:
    with pytest.raises(RtspError) as refused:
        RtspReader().feed(data)
    assert refused.value.status == status


@given(st.binary(max_size=2048))
def test_fuzzed_bytes_give_messages_or_rtsp_error(data: bytes) -> None:
    reader = RtspReader()
    try:
        for message in reader.feed(data):
            assert isinstance(message, RtspRequest | Interleaved)
    except RtspError as error:
        assert 400 <= error.status < 600


@given(st.text(max_size=300))
def test_fuzzed_transport_headers(value: str) -> None:
    try:
        transport = parse_transport(value)
    except RtspError as error:
        assert error.status == 461
    else:
        assert all(0 <= port <= 0xFFFF for port in transport.client_ports + transport.channels)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("RTP/AVP/TCP;unicast;interleaved=0-1", Transport(tcp=True, channels=(0, 1))),
        ("RTP/AVP/TCP;unicast;interleaved=4", Transport(tcp=True, channels=(4, 5))),
        ("RTP/AVP;unicast;client_port=5000-5001", Transport(tcp=False, client_ports=(5000, 5001))),
        (
            "RTP/AVP;multicast, RTP/AVP/UDP;unicast;client_port=6000-6001",
            Transport(tcp=False, client_ports=(6000, 6001)),
        ),
    ],
)
def test_transports(header: str, expected: Transport) -> None:
    assert parse_transport(header) == expected


@pytest.mark.parametrize("header", [None, "RTP/AVP;multicast", "RTP/AVP;unicast", "RAW/RAW/UDP"])
def test_unsupported_transports(header: str | None) -> None:
    with pytest.raises(RtspError) as refused:
        parse_transport(header)
    assert refused.value.status == 461


def test_responses_echo_cseq_without_letting_it_end_the_line() -> None:
    response = build_response("5\r\nX-Injected: 1", 200, {"Public": "OPTIONS"}, b"v=0\r\n")
    assert response == (
        b"RTSP/1.0 200 OK\r\nCSeq: 5  X-Injected: 1\r\nPublic: OPTIONS\r\n"
        b"Content-Length: 5\r\n\r\nv=0\r\n"
    )
