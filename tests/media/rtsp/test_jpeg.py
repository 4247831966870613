"""RFC 2435 payloads from real libavcodec JPEGs: headers, in-band tables, lossless scan, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.media.rtsp.jpeg import JpegRtpError, jpeg_payloads, parse_jpeg
from fakecloud.media.testpattern import TestPattern

MAIN = struct.Struct("!B3sBBBB")


@pytest.fixture(scope="module")
def picture() -> bytes:
    return next(TestPattern("jpeg", 320, 240).frames(1)).data


def test_payloads_carry_the_scan_and_tables(picture: bytes) -> None:
    scan = parse_jpeg(picture)
    assert (scan.width, scan.height, len(scan.tables)) == (320, 240, 128)
    assert scan.type & 0x3F == 1  # 4:2:0 (yuvj420p)
    payloads = jpeg_payloads(picture, max_payload=1000)
    assert len(payloads) > 1 and all(len(payload) <= 1000 for payload in payloads)
    rebuilt = b""
    for payload in payloads:
        _, offset, kind, quality, width, height = MAIN.unpack_from(payload)
        assert (kind, quality, width, height) == (scan.type, 255, 40, 30)
        assert int.from_bytes(offset, "big") == len(rebuilt)
        body = payload[MAIN.size :]
        if kind >= 64:  # the restart marker header: interval, then F=1, L=1, count 0x3FFF
            assert struct.unpack_from("!HH", body) == (scan.restart_interval, 0xFFFF)
            body = body[4:]
        if not rebuilt:
            assert body[:4] == bytes((0, 0, 0, 128)) and body[4:132] == scan.tables
            body = body[132:]
        rebuilt += body
    assert rebuilt == scan.scan and picture.endswith(scan.scan + b"\xff\xd9")


def with_frame_header(picture: bytes, marker: int, change: dict[int, int]) -> bytes:
    """The picture with its SOF0 marker replaced and bytes of the frame header changed."""
    position = picture.index(b"\xff\xc0")
    data = bytearray(picture)
    data[position + 1] = marker
    for offset, value in change.items():
        data[position + 4 + offset] = value
    return bytes(data)


@pytest.mark.parametrize(
    ("marker", "change", "reason"),
    [
        (0xC2, {}, "baseline"),  # progressive
        (0xC0, {0: 12}, "8-bit"),  # 12-bit samples
        (0xC0, {7: 0x11}, "neither 4:2:2 nor 4:2:0"),  # luma not subsampled (4:4:4)
        (0xC0, {10: 0x21}, "chroma"),  # subsampled chroma
        (0xC0, {1: 0x10}, "2040"),  # 4096 rows
    ],
)
def test_pictures_rfc_2435_cannot_carry_are_refused(
    picture: bytes, marker: int, change: dict[int, int], reason: str
) -> None:
    with pytest.raises(JpegRtpError, match=reason):
        parse_jpeg(with_frame_header(picture, marker, change))


def test_not_a_jpeg() -> None:
    with pytest.raises(JpegRtpError, match="SOI"):
        parse_jpeg(b"\x89PNG\r\n")


@given(st.binary(max_size=600))
def test_fuzzed_pictures_give_payloads_or_jpeg_rtp_error(data: bytes) -> None:
    try:
        payloads = jpeg_payloads(b"\xff\xd8" + data)
    except JpegRtpError:
        return
    assert payloads
