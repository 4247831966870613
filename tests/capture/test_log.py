"""CaptureLog: JSON lines, rotation by size, bounded records, never raising into callers."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from pathlib import Path

import pytest

from fakecloud.capture import CaptureLog, capture_files, read_records
from fakecloud.core.recording import Recorder


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_one_json_line_each(tmp_path: Path) -> None:
    log: Recorder = CaptureLog(tmp_path / "captures", max_bytes=1 << 20)
    log.record(
        "connection",
        data=b"\x00\x01hello",
        peer="127.0.0.1:5555",
        local_port=5104,
        tls=True,
        sni="server.seedonk.com",
        direction="in",
        connection="c7",
        decoded={"CX_UNAME": "alice"},
    )
    log.record("dns", peer="127.0.0.1:53", extra=b"\xff", odd={1, 2}, thing=object)
    first, second = lines(tmp_path / "captures" / "capture.jsonl")
    assert datetime.fromisoformat(first["time"]).utcoffset().total_seconds() == 0
    assert first["kind"] == "connection" and first["hex"] == "000168656c6c6f"
    assert (first["peer"], first["local_port"], first["tls"], first["sni"]) == (
        "127.0.0.1:5555",
        5104,
        True,
        "server.seedonk.com",
    )
    assert (first["direction"], first["connection"], first["decoded"]) == (
        "in",
        "c7",
        {"CX_UNAME": "alice"},
    )
    assert second["kind"] == "dns" and "hex" not in second
    assert second["extra"] == "ff" and sorted(second["odd"]) == [1, 2]
    assert "object" in second["thing"]
    log.close()


def test_rotates_by_size_and_keeps_at_most_keep_files(tmp_path: Path) -> None:
    directory = tmp_path / "captures"
    log = CaptureLog(directory, max_bytes=2048, keep=3)
    for index in range(200):
        log.record("frame", data=bytes(20), index=index)
    log.close()
    files = capture_files(directory)
    assert [path.name for path in files] == ["capture.2.jsonl", "capture.1.jsonl", "capture.jsonl"]
    assert all(path.stat().st_size <= 2048 for path in files)
    indexes = [record["index"] for path in files for record in read_records(path)]
    assert indexes == list(range(200 - len(indexes), 200))  # the newest, in order, no gaps
    assert log.records_written == 200


def test_large_data_is_truncated(tmp_path: Path) -> None:
    log = CaptureLog(tmp_path, max_bytes=4096)
    log.record("connection", data=b"x" * 100_000)
    log.close()
    [record] = lines(tmp_path / "capture.jsonl")
    assert record["truncated_from"] == 100_000 and len(record["hex"]) == 2 * (4096 // 8)


def test_a_disk_error_is_logged_once_and_recording_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "captures"
    blocked.write_text("a file where the folder should be")
    log = CaptureLog(blocked, max_bytes=4096)
    with caplog.at_level(logging.ERROR, logger="fakecloud.capture.log"):
        for _ in range(5):
            log.record("connection", data=b"lost")
    assert log.records_lost == 5 and log.records_written == 0
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    blocked.unlink()
    log.record("connection", data=b"kept")
    log.close()
    assert [record["hex"] for record in lines(blocked / "capture.jsonl")] == [b"kept".hex()]
    assert log.status()["records_lost"] == 5


def test_threads_do_not_interleave_lines(tmp_path: Path) -> None:
    log = CaptureLog(tmp_path, max_bytes=1 << 20)

    def write(worker: int) -> None:
        for index in range(200):
            log.record("frame", data=bytes([worker]) * 64, worker=worker, index=index)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    log.close()
    assert len(lines(tmp_path / "capture.jsonl")) == 800


def test_bad_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        CaptureLog(tmp_path, max_bytes=10)
    with pytest.raises(ValueError):
        CaptureLog(tmp_path, max_bytes=4096, keep=0)
