"""The capture log: one JSON object a line, appended, rotated by size.

Real cameras speak forms of the protocol nobody has documented ([U] in docs/protocol.md). Whatever
fakecloud cannot handle is recorded here, so an owner can share it (redacted) and fakecloud can
learn it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fakecloud.capture.credentials import remove_credentials
from fakecloud.capture.records import CURRENT_FILE, rotated_file

log = logging.getLogger(__name__)

__all__ = ["CURRENT_FILE", "CaptureLog", "rotated_file"]

# Seconds between two reports of the same disk trouble, so a full disk cannot flood the log.
_REPORT_INTERVAL = 60.0


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


class CaptureLog:
    """Implements core.recording.Recorder. Never raises into the caller: a disk problem is
    logged once an interval and recording resumes as soon as the disk accepts writes again.

    Each record is one whole line or nothing: a write the disk cut short is cut back off the
    file, so readers never meet half a record (and if even that fails, the next record starts
    on a fresh line). Below `min_free_bytes` of free space recording pauses, so captures never
    fill the disk the store needs.
    """

    def __init__(
        self, directory: Path, max_bytes: int, keep: int = 10, *, min_free_bytes: int = 0
    ) -> None:
        if max_bytes < 1024 or keep < 1 or min_free_bytes < 0:
            raise ValueError(
                "a capture log needs max_bytes >= 1024, keep >= 1 and min_free_bytes >= 0"
            )
        self.directory = directory
        self.max_bytes = max_bytes
        self.keep = keep
        self.min_free_bytes = min_free_bytes
        # One record's raw bytes (stored as hex, twice their size) fill at most a quarter of a
        # file, so a file holds several and the log stays within about keep * max_bytes.
        self._max_data = max_bytes // 8
        self.records_written = 0
        self.records_lost = 0
        self.records_paused = 0
        self._fd: int | None = None
        self._size = 0
        self._needs_newline = False  # a cut-short line could not be removed: end it first
        self._failing = False
        self._failures_unreported = 0
        self._reported_at = -_REPORT_INTERVAL
        self._paused = False
        self._lock = threading.Lock()

    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        entry: dict[str, Any] = {"time": datetime.now(UTC).isoformat(timespec="microseconds")}
        entry["kind"] = kind
        truncated_from = None
        if data is not None and len(data) > self._max_data:
            truncated_from = len(data)
            data = data[: self._max_data]
        fields, data, removed = remove_credentials(fields, None if data is None else bytes(data))
        entry.update(fields)
        if removed:
            entry["credentials_removed"] = True
        if data is not None:
            if truncated_from is not None:
                entry["truncated_from"] = truncated_from
            entry["hex"] = data.hex()
        try:
            line = json.dumps(entry, default=_json_value, ensure_ascii=False) + "\n"
        except (TypeError, ValueError) as error:  # e.g. a circular structure in the fields
            line = json.dumps({"time": entry["time"], "kind": kind, "error": str(error)}) + "\n"
        with self._lock:
            self._write(line)

    def _write(self, line: str) -> None:
        try:
            encoded = line.encode("utf-8", "surrogatepass")
            if self._fd is None:
                self._open()
            if not self._space_allows():
                return
            if self._size and self._size + len(encoded) > self.max_bytes:
                self._rotate()
                self._open()
            self._append(b"\n" + encoded if self._needs_newline else encoded)
        except (OSError, UnicodeError) as error:
            self.records_lost += 1
            self._close_file()
            self._report_failure(error)
            return
        if self._failing:
            self._failing = False
            log.warning("the capture log is being written again (%d lost)", self.records_lost)
        self.records_written += 1

    def _append(self, payload: bytes) -> None:
        """All of payload at the end of the file, or the file as it was before (or, failing
        that, marked so the next record starts on a fresh line)."""
        assert self._fd is not None
        written = 0
        try:
            while written < len(payload):
                count = os.write(self._fd, payload[written:])
                if count == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += count
        except OSError:
            if written:
                try:
                    os.ftruncate(self._fd, self._size)
                except OSError:
                    self._needs_newline = True
                    self._size += written
            raise
        self._size += written
        self._needs_newline = False

    def _space_allows(self) -> bool:
        """False (with one warning) while the disk is below the free-space floor."""
        if not self.min_free_bytes:
            return True
        assert self._fd is not None
        usage = os.fstatvfs(self._fd)
        free = usage.f_bavail * usage.f_frsize
        if free < self.min_free_bytes:
            self.records_paused += 1
            if not self._paused:
                self._paused = True
                log.warning(
                    "capture recording paused: %s has %d MiB free, below the %d MiB floor "
                    "(FAKECLOUD_CAPTURE_MIN_FREE_BYTES); it resumes when space returns",
                    self.directory,
                    free >> 20,
                    self.min_free_bytes >> 20,
                )
            return False
        if self._paused:
            self._paused = False
            log.info(
                "capture recording resumed (%d records skipped while paused)", self.records_paused
            )
        return True

    def _report_failure(self, error: Exception) -> None:
        """Log a write failure at most once an interval, with how many failed meanwhile."""
        self._failing = True
        self._failures_unreported += 1
        now = time.monotonic()
        if now - self._reported_at < _REPORT_INTERVAL:
            return
        log.error(
            "cannot write the capture log in %s: %s (%d record(s) lost since the last report)",
            self.directory,
            error,
            self._failures_unreported,
        )
        self._reported_at = now
        self._failures_unreported = 0

    def _open(self) -> None:
        # Security consideration: captures are the owner's alone.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / CURRENT_FILE
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        self._close_file()
        (self.directory / rotated_file(self.keep - 1)).unlink(missing_ok=True)
        for index in range(self.keep - 2, -1, -1):
            source = self.directory / rotated_file(index)
            if source.exists():
                source.replace(self.directory / rotated_file(index + 1))
        self._needs_newline = False  # the next record opens a new file

    def _close_file(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close_file()

    def status(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "records_written": self.records_written,
            "records_lost": self.records_lost,
            "records_paused": self.records_paused,
            "paused_for_free_space": self._paused,
        }
