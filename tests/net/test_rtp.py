"""RTP header: hand-made vectors, the optional parts, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.net.rtp import RtpError, RtpExtension, RtpPacket, build_rtp, parse_rtp


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
