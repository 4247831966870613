"""RTP header and RTCP compounds: hand-made vectors, the optional parts, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.net.rtp import (
    RtcpPacket,
    RtcpType,
    RtpError,
    RtpExtension,
    RtpPacket,
    build_rtcp,
    build_rtp,
    is_bye,
    looks_like_rtcp,
    parse_rtcp,
    parse_rtp,
    rtcp_bye,
)


def test_plain_header_vector() -> None:
    data = bytes.fromhex("80e0 1234 0001d4c0 deadbeef") + b"w1..."
    packet = parse_rtp(data)
    assert packet == RtpPacket(
        payload_type=96,
        sequence=0x1234,
        timestamp=120000,
        ssrc=0xDEADBEEF,
        payload=b"w1...",
        marker=True,
    )
    assert build_rtp(packet) == data


def test_csrcs_extension_and_padding() -> None:
    data = (
        bytes.fromhex("b2 08 0001 00000002 00000003")
        + bytes.fromhex("00000011 00000022")
        + bytes.fromhex("bede 0001 01020304")
        + b"payload"
        + b"\x00\x00\x03"
    )
    packet = parse_rtp(data)
    assert packet.csrcs == (0x11, 0x22)
    assert packet.extension == RtpExtension(0xBEDE, b"\x01\x02\x03\x04")
    assert packet.payload == b"payload"
    assert packet.padding == 3
    assert not packet.marker and packet.payload_type == 8
    assert build_rtp(packet) == data


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes.fromhex("80e0123400000000000000"),
        bytes.fromhex("40e0 1234 00000000 00000000"),
        bytes.fromhex("82e0 1234 00000000 00000000 00000001"),
        bytes.fromhex("90e0 1234 00000000 00000000 bede"),
        bytes.fromhex("90e0 1234 00000000 00000000 bede 0002 00000000"),
        bytes.fromhex("a0e0 1234 00000000 00000000 00"),
        bytes.fromhex("a0e0 1234 00000000 00000000 05"),
    ],
    ids=[
        "empty",
        "short",
        "version-1",
        "csrc-cut",
        "ext-header-cut",
        "ext-data-cut",
        "padding-zero",
        "padding-too-long",
    ],
)
def test_malformed_packets_are_refused(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse_rtp(data)


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(128, 0, 0, 0, b""),
        RtpPacket(0, 1 << 16, 0, 0, b""),
        RtpPacket(0, 0, 1 << 32, 0, b""),
        RtpPacket(0, 0, 0, -1, b""),
        RtpPacket(0, 0, 0, 0, b"", csrcs=tuple(range(16))),
        RtpPacket(0, 0, 0, 0, b"", padding=256),
        RtpPacket(0, 0, 0, 0, b"", extension=RtpExtension(0, b"abc")),
        RtpPacket(0, 0, 0, 0, b"", extension=RtpExtension(1 << 16, b"")),
    ],
)
def test_unbuildable_packets_are_refused(packet: RtpPacket) -> None:
    with pytest.raises(RtpError):
        build_rtp(packet)


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=40),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.builds(
        RtpExtension,
        profile=st.integers(0, 0xFFFF),
        data=st.binary(max_size=12).map(lambda data: data[: len(data) // 4 * 4]),
    ),
    padding=st.integers(0, 255),
)


@settings(max_examples=200)
@given(packets)
def test_build_then_parse_round_trips(packet: RtpPacket) -> None:
    assert parse_rtp(build_rtp(packet)) == packet


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_parse_raises_only_rtp_error(data: bytes) -> None:
    try:
        parse_rtp(data)
    except RtpError:
        pass


# A receiver report laid out as K's P2PMediaSession writes it every 2 s: V=2, one report block,
# type 201, length 7 words; reporter SSRC, source SSRC, loss, highest sequence, jitter, LSR, DLSR.
K_RECEIVER_REPORT = bytes.fromhex(
    "81c90007 11223344 deadbeef 00000000 0001e240 00000010 00000000 00000000"
)


def test_k_receiver_report_vector() -> None:
    (report,) = parse_rtcp(K_RECEIVER_REPORT)
    assert (report.packet_type, report.count, len(report.body)) == (RtcpType.RECEIVER_REPORT, 1, 28)
    assert looks_like_rtcp(K_RECEIVER_REPORT) and not is_bye(K_RECEIVER_REPORT)
    assert build_rtcp([report]) == K_RECEIVER_REPORT


def test_compound_report_then_bye() -> None:
    (report,) = parse_rtcp(K_RECEIVER_REPORT)
    datagram = rtcp_bye(0x11223344, (report,))
    assert datagram == K_RECEIVER_REPORT + bytes.fromhex("81cb0001 11223344")
    assert [packet.packet_type for packet in parse_rtcp(datagram)] == [201, 203]
    assert is_bye(datagram) and is_bye(rtcp_bye(7))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes.fromhex("81c9"),
        bytes.fromhex("41c90000"),
        bytes.fromhex("81c90001 0000"),
        K_RECEIVER_REPORT + b"\x81",
    ],
    ids=["empty", "short-header", "version-1", "length-overruns", "trailing-byte"],
)
def test_malformed_rtcp_is_refused(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse_rtcp(data)
    assert not is_bye(data)


def test_media_chunks_are_not_mistaken_for_rtcp() -> None:
    # A media chunk starts with its frame number (u32 LE): frame 0x...cb81 would look like a
    # BYE header, so only the control channel is ever checked, and the lengths must tile.
    assert not is_bye(bytes.fromhex("81cb0000 01000000") + bytes(40))


def test_unbuildable_rtcp_is_refused() -> None:
    for packet in (RtcpPacket(203, 32, b""), RtcpPacket(203, 1, b"abc"), RtcpPacket(256, 0, b"")):
        with pytest.raises(RtpError):
            build_rtcp([packet])
    with pytest.raises(RtpError):
        rtcp_bye(1 << 32)


rtcp_packets = st.builds(
    RtcpPacket,
    packet_type=st.integers(0, 255),
    count=st.integers(0, 31),
    body=st.binary(max_size=40).map(lambda body: body[: len(body) // 4 * 4]),
    padded=st.booleans(),
)


@settings(max_examples=200)
@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_rtcp_build_then_parse_round_trips(compound: list[RtcpPacket]) -> None:
    assert parse_rtcp(build_rtcp(compound)) == tuple(compound)


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_rtcp_parse_raises_only_rtp_error(data: bytes) -> None:
    try:
        packets = parse_rtcp(data)
    except RtpError:
        assert not is_bye(data)
    else:
        assert sum(4 + len(packet.body) for packet in packets) == len(data)
