"""The event log's picture folder stays bounded (the stored events themselves are tested end to
end in tests/motion/test_part.py)."""

from __future__ import annotations

from pathlib import Path

from fakecloud.motion.events import keep_newest_pictures


def test_only_the_newest_pictures_are_kept(tmp_path: Path) -> None:
    for event_id in (3, 10, 2, 7):
        (tmp_path / f"{event_id}.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "other.jpg").write_bytes(b"")
    assert keep_newest_pictures(tmp_path, keep=2) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["10.jpg", "7.jpg", "other.jpg"]
    assert keep_newest_pictures(tmp_path, keep=2) == 0
