"""fMP4 parts from FFmpeg's mp4 muxer: an init segment, fragments at keyframes and every
`part_seconds`, decodable by PyAV with the counter in every frame."""

from __future__ import annotations

import io
import struct

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.media.outputs.fmp4 import BoxError, Fmp4Fragmenter, Fragment, split_boxes
from fakecloud.media.testpattern import TestPattern, read_counter


def _fragments(count: int, part_seconds: float = 0.2) -> tuple[Fmp4Fragmenter, list[Fragment]]:
    fragmenter = Fmp4Fragmenter(part_seconds)
    pattern = TestPattern("h264", 320, 240, fps=15, gop=15)
    made = [fragmenter.feed(frame) for frame in pattern.frames(count)]
    fragmenter.close()
    return fragmenter, [fragment for fragment in made if fragment is not None]


def test_parts_are_cut_every_part_seconds_and_at_keyframes() -> None:
    fragmenter, fragments = _fragments(46)
    assert fragmenter.init is not None
    assert [kind for kind, _ in split_boxes(fragmenter.init)] == [b"ftyp", b"moov"]
    # 15 fps, 0.2 s parts, a keyframe every 15 frames: 3+3+3+3+3 frames per GOP.
    assert [f.frames for f in fragments] == [3] * 15
    assert [f.independent for f in fragments[:6]] == [True, False, False, False, False, True]
    assert all(abs(f.duration - 0.2) < 1e-6 for f in fragments)
    assert all([k for k, _ in split_boxes(f.data)] == [b"moof", b"mdat"] for f in fragments)


def test_init_and_parts_decode_to_the_counter_in_order() -> None:
    fragmenter, fragments = _fragments(31)
    assert fragmenter.init is not None
    data = fragmenter.init + b"".join(f.data for f in fragments)
    with av.open(io.BytesIO(data)) as container:
        counters = [read_counter(frame.to_ndarray(format="gray")) for frame in container.decode()]
    assert counters == list(range(30))


def test_a_closed_fragmenter_takes_no_more_frames() -> None:
    fragmenter = Fmp4Fragmenter(0.2)
    fragmenter.close()
    frame = next(TestPattern("h264", 320, 240).frames(1))
    assert fragmenter.feed(frame) is None


def test_boxes_split_with_32_and_64_bit_sizes() -> None:
    small = struct.pack(">I4s", 12, b"free") + b"abcd"
    large = struct.pack(">I4sQ", 1, b"mdat", 18) + b"xy"
    assert split_boxes(small + large) == [(b"free", small), (b"mdat", large)]
    for broken in (small[:7], struct.pack(">I4s", 4, b"free"), struct.pack(">I4s", 1, b"mdat")):
        with pytest.raises(BoxError):
            split_boxes(broken)


@given(st.binary(max_size=64))
def test_any_bytes_split_or_raise_box_error(data: bytes) -> None:
    try:
        boxes = split_boxes(data)
    except BoxError:
        return
    assert b"".join(box for _, box in boxes) == data
