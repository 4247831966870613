"""Reading WHEP offers (fuzzed: any body gets an Offer or an OfferError) and choosing the H.264
codec of the answer."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiortc import VideoStreamTrack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakecloud.media.outputs.webrtc import lan_peer, negotiate
from fakecloud.media.outputs.webrtc_offer import (
    MAX_OFFER_BYTES,
    Offer,
    OfferError,
    OfferTypeError,
    h264_preferences,
    profile_level_id,
    read_offer,
)
from fakecloud.media.testpattern import TestPattern

# A browser-like WHEP offer: one receive-only video section, VP8 and two H.264 profiles.
OFFER_LINES = [
    "v=0",
    "o=- 1 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "m=video 9 UDP/TLS/RTP/SAVPF 96 102 108",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:abcd",
    "a=ice-pwd:abcdefghijklmnopqrstuv",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
    "a=mid:0",
    "a=recvonly",
    "a=rtcp-mux",
    "a=rtpmap:96 VP8/90000",
    "a=rtpmap:102 H264/90000",
    "a=rtcp-fb:102 nack pli",
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
    "a=rtpmap:108 H264/90000",
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
]
OFFER = "\r\n".join(OFFER_LINES) + "\r\n"
SDP = "application/sdp"


def test_an_offer_as_sdp_or_json() -> None:
    assert read_offer(OFFER.encode(), SDP) == Offer(OFFER, as_json=False)
    assert read_offer(OFFER.encode(), "Application/SDP; charset=utf-8").sdp == OFFER
    body = json.dumps({"type": "offer", "sdp": OFFER}).encode()
    assert read_offer(body, "application/json") == Offer(OFFER, as_json=True)


def without_h264(lines: list[str]) -> list[str]:
    return [line for line in lines if "H264" not in line and " 10" not in line.split(":")[-1]]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"v=0" + b" " * MAX_OFFER_BYTES, SDP, "larger than"),
        (b"v=0\xff", SDP, "UTF-8"),
        (b"hello", SDP, "v=0"),
        (b"v=0\r\nm=video", SDP, "not valid SDP"),
        (b"[1]", "application/json", '{"type": "offer"'),
        (b'{"type": "answer", "sdp": "v=0"}', "application/json", '{"type": "offer"'),
        (b'{"type": "offer", "sdp": 1}', "application/json", '{"type": "offer"'),
        (b"{", "application/json", "not JSON"),
        (b"[" * 10_000, "application/json", "not JSON"),
        ("\r\n".join(OFFER_LINES[:5]).encode(), SDP, "no H.264"),
        ("\r\n".join(without_h264(OFFER_LINES)).encode(), SDP, "no H.264"),
        ((OFFER + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" * 4).encode(), SDP, "media sections"),
    ],
)
def test_bad_offers(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(OfferError, match=message) as refused:
        read_offer(body, content_type)
    assert not isinstance(refused.value, OfferTypeError)


def test_other_content_types() -> None:
    for content_type in ("", "text/plain", "application/sdp-x", "multipart/form-data"):
        with pytest.raises(OfferTypeError):
            read_offer(OFFER.encode(), content_type)


@given(st.binary(max_size=2048), st.sampled_from([SDP, "application/json", "text/plain", ""]))
@settings(max_examples=300, deadline=None)
def test_any_body_gets_an_offer_or_a_clear_refusal(body: bytes, content_type: str) -> None:
    try:
        read_offer(body, content_type)
    except OfferError:
        pass


# Lines from the offer, shuffled, dropped, duplicated or garbled: the parser's hard cases.
garbled_lines = st.lists(
    st.one_of(
        st.sampled_from(OFFER_LINES),
        st.sampled_from(OFFER_LINES).map(lambda line: line[: len(line) // 2]),
        st.text(max_size=40).map(lambda text: "a=" + text),
        st.sampled_from("vosmtcab").map(lambda key: key + "=" + "x 9 1"),
    ),
    max_size=30,
)


@given(garbled_lines)
@settings(max_examples=300, deadline=None)
def test_garbled_offers_get_an_offer_or_a_clear_refusal(lines: list[str]) -> None:
    try:
        read_offer("\r\n".join(["v=0", *lines]).encode(), SDP)
    except OfferError:
        pass


@given(garbled_lines)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_offers_that_pass_the_check_are_answered_or_refused(lines: list[str]) -> None:
    """What read_offer lets through, aiortc's own negotiation may still refuse: as OfferError,
    never as another exception (that would be a 500)."""
    sdp = "\r\n".join([*OFFER_LINES, *lines]) + "\r\n"
    try:
        read_offer(sdp.encode(), SDP)
    except OfferError:
        return
    asyncio.run(answer_or_refuse(sdp))


async def answer_or_refuse(sdp: str) -> None:
    peer = lan_peer()
    try:
        answer = await negotiate(
            peer, VideoStreamTrack(), sdp, camera_profile=None, address="127.0.0.1"
        )
        assert "H264/90000" in answer
    except OfferError:
        pass
    finally:
        await peer.close()


def test_the_cameras_profile_from_its_sps() -> None:
    keyframe = next(TestPattern("h264", 320, 240, fps=15).frames(1))
    found = profile_level_id(keyframe.data)
    assert found is not None and found.startswith("42")  # the simulator encodes Baseline
    assert profile_level_id(b"\x00\x00\x00\x01\x65\x88") is None  # an IDR slice, no SPS
    assert profile_level_id(b"") is None


# Camera bytes, often with an SPS start (00 00 01, NAL type 7) so the reader's own path runs.
access_units = st.one_of(
    st.binary(max_size=64),
    st.binary(max_size=64).map(lambda rest: b"\x00\x00\x01\x67" + rest),
    st.binary(max_size=64).map(lambda rest: b"\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x27" + rest),
)


@given(access_units)
@settings(max_examples=300, deadline=None)
def test_any_access_unit_gives_a_profile_or_none(data: bytes) -> None:
    found = profile_level_id(data)
    assert found is None or (len(found) == 6 and int(found, 16) >= 0)
    # Whatever the camera claims, the answer offers H.264 (then RTX).
    assert h264_preferences(found)[0].mimeType == "video/H264"


def profiles(camera: str | None) -> list[str]:
    return [
        str(codec.parameters.get("profile-level-id", codec.mimeType))
        for codec in h264_preferences(camera)
    ]


def test_the_answer_codec_follows_the_cameras_profile() -> None:
    assert profiles("42001f") == ["42001f", "video/rtx"]  # Baseline
    assert profiles("42c01f") == ["42e01f", "video/rtx"]  # Constrained Baseline (x264)
    assert profiles(None) == ["42e01f", "video/rtx"]
    assert profiles("640028") == ["42e01f", "video/rtx"]  # High: none listed, the default
    assert profiles("zz") == ["42e01f", "video/rtx"]
