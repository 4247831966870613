"""aiortc's RFC 6184 packetiser on real access units: payload kinds, sizes, and a lossless trip."""

from __future__ import annotations

import pytest
from aiortc.codecs.h264 import h264_depayload
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.media.depacketizer import split_annexb
from fakecloud.media.rtsp.h264 import H264Payloader, H264RtpError
from fakecloud.media.testpattern import TestPattern

SINGLE_NAL_TYPES = set(range(1, 24))
STAP_A, FU_A = 24, 28


def test_a_keyframe_splits_into_fu_a_and_joins_back() -> None:
    keyframe = next(TestPattern("h264", 1280, 720).frames(1))
    assert keyframe.keyframe and len(keyframe.data) > 2 * 1300
    payloads = H264Payloader().payloads(keyframe.data)
    kinds = {payload[0] & 0x1F for payload in payloads}
    assert FU_A in kinds and kinds <= SINGLE_NAL_TYPES | {STAP_A, FU_A}
    assert max(len(payload) for payload in payloads) <= 1300
    # The receiver's side (aiortc's depayloader) gives back every NAL unit, byte for byte.
    rebuilt = b"".join(h264_depayload(payload) for payload in payloads)
    assert split_units(rebuilt) == split_units(keyframe.data)


def split_units(annexb: bytes) -> list[bytes]:
    return [unit.lstrip(b"\x00")[1:] for unit in split_annexb(annexb)]


def test_a_small_frame_is_one_packet() -> None:
    unit = b"\x00\x00\x00\x01\x41" + bytes(range(200))
    assert H264Payloader().payloads(unit) == [unit[4:]]


@given(
    st.lists(
        st.one_of(st.binary(max_size=40), st.binary(min_size=1290, max_size=3000)), max_size=5
    ),
    st.sampled_from([b"\x00\x00\x01", b"\x00\x00\x00\x01", b""]),
)
def test_fuzzed_access_units_give_payloads_or_h264_rtp_error(
    units: list[bytes], start_code: bytes
) -> None:
    try:
        payloads = H264Payloader().payloads(b"".join(start_code + unit for unit in units))
    except H264RtpError:
        return
    assert payloads and max(len(payload) for payload in payloads) <= 1300


def test_nothing_to_send() -> None:
    with pytest.raises(H264RtpError):
        H264Payloader().payloads(b"\x00\x00\x01\x00\x00\x01")
