"""The recordings folder: names, listing, retention by age and by bytes, the free-space floor."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.recording.storage import ClipFolder, clip_name, parse_clip

START = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def make_clip(folder: ClipFolder, camera_id: int, started: datetime, size: int) -> Path:
    path = folder.new_path(camera_id, "motion", started)
    path.write_bytes(b"x" * size)
    return path


def test_names_round_trip(tmp_path: Path) -> None:
    assert clip_name(START, "continuous") == "20260102T030405.678Z-continuous.mp4"
    path = tmp_path / clip_name(START, "motion")
    path.write_bytes(b"abc")
    clip = parse_clip(7, path)
    assert clip is not None and (clip.camera_id, clip.started, clip.reason) == (7, START, "motion")
    assert clip.bytes == 3 and parse_clip(7, tmp_path / "notes.txt") is None


def test_listing_is_newest_first_and_by_camera(tmp_path: Path) -> None:
    folder = ClipFolder(tmp_path, 0, 0, 0)
    assert folder.clips() == []
    old = make_clip(folder, 1, START, 10)
    new = make_clip(folder, 2, START + timedelta(minutes=1), 10)
    (tmp_path / "stray").mkdir()
    assert [clip.path for clip in folder.clips()] == [new, old]
    assert [clip.path for clip in folder.clips(1)] == [old]
    assert folder.find(1, old.name) is not None and folder.find(2, old.name) is None


def test_retention_deletes_the_oldest_over_budget_but_never_an_open_clip(tmp_path: Path) -> None:
    folder = ClipFolder(tmp_path, 0, max_bytes=250, min_free_bytes=0)
    paths = [make_clip(folder, 1, START + timedelta(minutes=i), 100) for i in range(4)]
    assert folder.prune(keep=frozenset({paths[0]})) == 2
    assert [p.exists() for p in paths] == [True, False, False, True]
    assert folder.prune() == 0 and folder.deleted == 2  # 200 bytes: within the budget


def test_retention_deletes_clips_past_their_age(tmp_path: Path) -> None:
    folder = ClipFolder(tmp_path, max_age_seconds=3600, max_bytes=0, min_free_bytes=0)
    old, recent = (make_clip(folder, 1, START + timedelta(minutes=i), 10) for i in range(2))
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert folder.prune() == 1 and not old.exists() and recent.exists()


def test_the_floor_counts_what_is_about_to_be_written(tmp_path: Path) -> None:
    free = ClipFolder(tmp_path, 0, 0, 0).free_bytes()
    assert ClipFolder(tmp_path, 0, 0, min_free_bytes=free // 2).has_room()
    assert not ClipFolder(tmp_path, 0, 0, min_free_bytes=free // 2).has_room(reserve=free)


@given(st.text(max_size=80))
def test_a_name_from_a_url_never_leaves_the_camera_folder(name: str) -> None:
    folder = ClipFolder(Path("/nonexistent-recordings"), 0, 0, 0)
    assert folder.find(1, name) is None
