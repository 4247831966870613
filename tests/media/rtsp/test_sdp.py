"""The DESCRIBE answer: parameter sets from a real libx264 keyframe, in RFC 6184's form."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.media.rtsp.sdp import SdpError, Track, build_sdp, track_of
from fakecloud.media.testpattern import TestPattern


def test_h264_track_from_a_keyframe() -> None:
    keyframe = next(TestPattern("h264", 320, 240).frames(1))
    track = track_of("h264", keyframe.data)
    assert track.sps[0] & 0x1F == 7 and track.pps[0] & 0x1F == 8
    sdp = build_sdp(track, 42, "127.0.0.1", "camera 1")
    assert sdp.startswith("v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=camera 1\r\n")
    fmtp = next(line for line in sdp.split("\r\n") if line.startswith("a=fmtp:96 "))
    parameters = dict(item.split("=", 1) for item in fmtp[len("a=fmtp:96 ") :].split(";"))
    assert parameters["packetization-mode"] == "1"
    assert parameters["profile-level-id"] == track.sps[1:4].hex()
    sps, pps = (base64.b64decode(value) for value in parameters["sprop-parameter-sets"].split(","))
    assert (sps, pps) == (track.sps, track.pps)
    assert "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" in sdp
    assert sdp.endswith("a=control:trackID=0\r\n")


def test_jpeg_track_uses_the_static_payload_type() -> None:
    sdp = build_sdp(Track("jpeg"), 1, "::1", "camera 2")
    assert "o=- 1 1 IN IP6 ::1\r\n" in sdp and "c=IN IP6 ::\r\n" in sdp
    assert "m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n" in sdp


def test_a_keyframe_without_parameter_sets_is_refused() -> None:
    with pytest.raises(SdpError):
        track_of("h264", b"\x00\x00\x00\x01\x65\x88\x84")


@given(st.binary(max_size=512))
def test_fuzzed_keyframes(data: bytes) -> None:
    try:
        track = track_of("h264", data)
    except SdpError:
        return
    assert len(track.sps) >= 4 and track.pps
