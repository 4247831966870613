"""One clip file: copied H.264 in fragmented MP4 that ffprobe reads, whole or cut short."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakecloud.media.testpattern import TestPattern
from fakecloud.recording.writer import ClipWriter
from tests.recording.clips import assert_consecutive, counters, probe

FPS = 15


def test_a_clip_holds_every_frame_unchanged(tmp_path: Path) -> None:
    frames = list(TestPattern("h264", 320, 240, FPS).frames(3 * FPS))
    writer = ClipWriter(tmp_path / "clip.mp4", frames[0])
    for frame in frames[1:]:
        writer.write(frame)
    assert writer.frames == len(frames) and round(writer.seconds, 3) == round(44 / FPS, 3)
    writer.close()
    found = probe(tmp_path / "clip.mp4")
    assert (found["codec_name"], found["width"], found["nb_read_frames"]) == ("h264", 320, "45")
    assert counters(tmp_path / "clip.mp4") == list(range(45))


def test_an_unclosed_clip_plays_up_to_its_last_fragment(tmp_path: Path) -> None:
    frames = list(TestPattern("h264", 320, 240, FPS).frames(3 * FPS))
    writer = ClipWriter(tmp_path / "clip.mp4", frames[0])
    for frame in frames[1:40]:
        writer.write(frame)
    # Read while the writer is still open, as after a crash: the first two seconds are there.
    found = probe(tmp_path / "clip.mp4")
    assert found["nb_read_frames"] == "30"
    assert_consecutive(counters(tmp_path / "clip.mp4"))
    writer.close()


def test_a_clip_must_start_with_an_h264_keyframe(tmp_path: Path) -> None:
    frames = list(TestPattern("h264", 320, 240, FPS).frames(2))
    with pytest.raises(ValueError, match="keyframe"):
        ClipWriter(tmp_path / "clip.mp4", frames[1])
    jpeg = next(TestPattern("jpeg", 320, 240, FPS).frames(1))
    with pytest.raises(ValueError, match=r"H\.264"):
        ClipWriter(tmp_path / "clip.mp4", jpeg)
