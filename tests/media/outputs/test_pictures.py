"""Garbage from a camera gives our own error (or nothing), never a crash: fuzzed with hypothesis."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator

from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.flv import flv_stream
from fakecloud.media.outputs.hls import mux_segment
from fakecloud.media.outputs.muxing import MonotonicClock
from fakecloud.media.outputs.pictures import H264Decoder, PictureError, picture_size
from fakecloud.media.testpattern import TestPattern

START_CODE = b"\x00\x00\x00\x01"
# Garbage that looks a little like H.264: start codes followed by random NAL bytes.
nal_units = st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=4).map(
    lambda units: b"".join(START_CODE + unit for unit in units)
)
payloads = st.one_of(st.binary(max_size=256), nal_units)


@settings(max_examples=150, deadline=None)
@given(payloads=st.lists(payloads, min_size=1, max_size=5))
def test_decoder_raises_only_picture_error(payloads: list[bytes]) -> None:
    decoder = H264Decoder()
    for payload in payloads:
        try:
            decoder.decode(MediaFrame("h264", payload, 0.0, True))
        except PictureError:
            pass


@settings(max_examples=100, deadline=None)
@given(payload=payloads)
def test_picture_size_raises_only_picture_error(payload: bytes) -> None:
    try:
        width, height = picture_size(MediaFrame("h264", payload, 0.0, True))
    except PictureError:
        return
    assert width > 0 and height > 0


@settings(max_examples=100, deadline=None)
@given(payloads=st.lists(payloads, min_size=1, max_size=5))
def test_mpegts_muxing_raises_only_picture_error(payloads: list[bytes]) -> None:
    frames = [MediaFrame("h264", data, i / 15, i == 0) for i, data in enumerate(payloads)]
    try:
        segment = mux_segment(frames, list(range(len(frames))))
    except PictureError:
        return
    assert segment[0] == 0x47


@settings(max_examples=50, deadline=None)
@given(payloads=st.lists(payloads, min_size=1, max_size=4))
def test_flv_raises_only_picture_error(payloads: list[bytes]) -> None:
    keyframe = next(TestPattern("h264", 128, 96).frames(1))

    async def frames() -> AsyncGenerator[MediaFrame, None]:
        yield keyframe  # a real keyframe, so the garbage reaches the muxer
        for index, data in enumerate(payloads, start=1):
            yield MediaFrame("h264", data, index / 15, False)

    async def scenario() -> None:
        try:
            async for chunk in flv_stream(frames()):
                assert chunk
        except PictureError:
            pass

    asyncio.run(scenario())


@given(timestamps=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50))
def test_muxer_clock_always_increases(timestamps: list[float]) -> None:
    clock = MonotonicClock(90_000)
    ticks = [clock.ticks(timestamp) for timestamp in timestamps]
    assert ticks[0] == 0
    assert all(later > earlier for earlier, later in itertools.pairwise(ticks))
