"""The test pattern: real encoded frames whose counter survives a real decoder."""

from __future__ import annotations

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fakecloud.media.frames import MediaFrame
from fakecloud.media.testpattern import DIGITS, CounterUnreadable, TestPattern, read_counter

NAL_SPS, NAL_PPS, NAL_IDR = 7, 8, 5


def nal_types(access_unit: bytes) -> list[int]:
    """NAL unit types in an Annex-B access unit (3- and 4-byte start codes)."""
    return [part[0] & 0x1F for part in access_unit.split(b"\x00\x00\x01")[1:] if part]


def decode_counters(frames: list[MediaFrame], codec_name: str) -> list[int]:
    decoder = av.CodecContext.create(codec_name, "r")
    counters = []
    for frame in frames:
        for picture in decoder.decode(av.Packet(frame.data)):
            counters.append(read_counter(picture.to_ndarray(format="gray")))
    return counters


def test_h264_keyframes_every_gop_with_parameter_sets() -> None:
    frames = list(TestPattern("h264", 320, 180, fps=10, gop=4).frames(13))
    assert len(frames) == 13
    assert [frame.keyframe for frame in frames] == [index % 4 == 0 for index in range(13)]
    for index, frame in enumerate(frames):
        assert frame.codec == "h264"
        assert frame.timestamp == pytest.approx(index / 10)
        assert frame.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))
        types = nal_types(frame.data)
        if frame.keyframe:
            assert {NAL_SPS, NAL_PPS, NAL_IDR} <= set(types)
            assert types.index(NAL_SPS) < types.index(NAL_IDR)
        else:
            assert NAL_IDR not in types


def test_h264_default_gop_is_one_second() -> None:
    frames = list(TestPattern("h264", 160, 96, fps=5).frames(11))
    assert [index for index, frame in enumerate(frames) if frame.keyframe] == [0, 5, 10]


def test_h264_counter_reads_back_after_decoding() -> None:
    frames = list(TestPattern("h264", 640, 360, fps=15).frames(20))
    assert decode_counters(frames, "h264") == list(range(20))


def test_h264_stream_can_be_joined_at_a_later_keyframe() -> None:
    frames = list(TestPattern("h264", 320, 180, fps=10, gop=5).frames(12))
    assert decode_counters(frames[5:], "h264") == list(range(5, 12))


def test_jpeg_frames_are_whole_images_with_readable_counter() -> None:
    frames = list(TestPattern("jpeg", 320, 240, fps=5).frames(6))
    assert [frame.timestamp for frame in frames] == pytest.approx([n / 5 for n in range(6)])
    for frame in frames:
        assert frame.codec == "jpeg"
        assert frame.keyframe
        assert frame.data.startswith(b"\xff\xd8") and frame.data.endswith(b"\xff\xd9")
    assert decode_counters(frames, "mjpeg") == list(range(6))


def test_default_size_is_720p() -> None:
    (frame,) = TestPattern("jpeg").frames(1)
    decoder = av.CodecContext.create("mjpeg", "r")
    (picture,) = decoder.decode(av.Packet(frame.data))
    assert (picture.width, picture.height) == (1280, 720)
    assert read_counter(picture.to_ndarray(format="gray")) == 0


def test_endless_stream_keeps_counting() -> None:
    stream = TestPattern("jpeg", 96, 64).frames()
    frames = [next(stream) for _ in range(3)]
    assert decode_counters(frames, "mjpeg") == [0, 1, 2]


@settings(max_examples=40, deadline=None)
@given(index=st.integers(min_value=0, max_value=10**9), width=st.sampled_from([96, 160, 1280]))
def test_raw_picture_counter_round_trips(index: int, width: int) -> None:
    picture = TestPattern("h264", width, 64 if width < 1280 else 720).picture(index)
    assert read_counter(picture.to_ndarray(format="gray")) == index % 10**DIGITS


@pytest.mark.parametrize(
    "plane",
    [
        np.zeros((720, 1280), dtype=np.uint8),
        np.full((720, 1280), 255, dtype=np.uint8),
        np.zeros((10, 10), dtype=np.uint8),
        np.zeros((720, 1280, 3), dtype=np.uint8),
    ],
)
def test_unreadable_planes_are_rejected(plane: np.ndarray) -> None:
    with pytest.raises(CounterUnreadable):
        read_counter(plane)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(0, 100), st.integers(0, 140)),
        elements=st.integers(0, 255),
    )
)
def test_read_counter_on_arbitrary_pixels_only_raises_its_own_error(plane: np.ndarray) -> None:
    try:
        assert 0 <= read_counter(plane) < 10**DIGITS
    except CounterUnreadable:
        pass


@pytest.mark.parametrize(
    "arguments",
    [
        {"codec": "vp8"},
        {"width": 95},
        {"width": 321},
        {"height": 10},
        {"fps": 0},
        {"gop": 0},
    ],
)
def test_invalid_parameters_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TestPattern(**arguments)  # type: ignore[arg-type]


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        next(TestPattern().frames(-1))
