"""The capture log on a real, tiny filesystem: whole records or nothing, and a free-space floor."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecloud.capture import CaptureLog, read_records

DISK_SIZE = "1m"
RECORD_DATA = 3000  # hex doubles it: a line of about 6 KiB, so the disk fills mid-record
MAX_RECORDS = 1000  # 1 MiB holds about 170 such lines; this bounds every loop


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for this test only (needs root, or a user allowed to mount)."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip() or 'not root'}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def all_lines_are_records(path: Path) -> int:
    bad: list[tuple[int, str]] = []
    count = sum(1 for _ in read_records(path, on_bad_line=lambda n, why: bad.append((n, why))))
    assert bad == []
    assert path.read_bytes().endswith(b"\n")
    return count


def test_a_full_disk_never_leaves_half_a_record(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (256 << 10))
    log = CaptureLog(small_disk / "captures", max_bytes=64 << 20)
    with caplog.at_level(logging.ERROR, logger="fakecloud.capture.log"):
        for index in range(MAX_RECORDS):
            log.record("frame", data=bytes([index % 256]) * RECORD_DATA, index=index)
            if log.records_lost >= 5:
                break
    assert log.records_lost == 5 and log.records_written > 10
    path = small_disk / "captures" / "capture.jsonl"
    assert all_lines_are_records(path) == log.records_written
    # Many failures, one report per interval.
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    # Space returns: the next record is written whole, on its own line.
    filler.unlink()
    log.record("frame", data=b"after", index=-1)
    log.close()
    records = list(read_records(path))
    assert all_lines_are_records(path) == log.records_written
    assert records[-1]["index"] == -1 and log.status()["records_lost"] == 5


def test_recording_pauses_below_the_free_space_floor_and_resumes(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (640 << 10))
    log = CaptureLog(small_disk / "captures", max_bytes=4096, keep=3, min_free_bytes=512 << 10)
    with caplog.at_level(logging.INFO, logger="fakecloud.capture.log"):
        for index in range(20):
            log.record("frame", data=b"x" * 100, index=index)
        assert log.records_written == 0 and log.records_paused == 20
        assert log.status()["paused_for_free_space"] is True
        paused = [r for r in caplog.records if "recording paused" in r.getMessage()]
        assert len(paused) == 1 and paused[0].levelno == logging.WARNING
        filler.unlink()
        for index in range(20, 200):  # enough to rotate several times
            log.record("frame", data=b"y" * 100, index=index)
    log.close()
    assert log.records_written == 180 and log.status()["paused_for_free_space"] is False
    assert sum("recording resumed" in r.getMessage() for r in caplog.records) == 1
    path = small_disk / "captures" / "capture.jsonl"
    assert list(read_records(path))[-1]["index"] == 199


def test_capture_files_are_private(tmp_path: Path) -> None:
    log = CaptureLog(tmp_path / "captures", max_bytes=4096)
    log.record("frame", data=b"x")
    log.close()
    assert (tmp_path / "captures").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "captures" / "capture.jsonl").stat().st_mode & 0o777 == 0o600
