"""The capture log: one JSON object a line, appended, rotated by size.

Real cameras speak forms of the protocol nobody has documented ([U] in docs/protocol.md). Whatever
fakecloud cannot handle is recorded here, so an owner can share it (redacted) and fakecloud can
learn it.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

CURRENT_FILE = "capture.jsonl"


def rotated_file(index: int) -> str:
    """capture.jsonl is index 0, then capture.1.jsonl (the newest rotated), capture.2.jsonl..."""
    return CURRENT_FILE if index == 0 else f"capture.{index}.jsonl"


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


class CaptureLog:
    """Implements core.recording.Recorder. Never raises into the caller: a disk problem is
    logged once and recording resumes as soon as the disk accepts writes again."""

    def __init__(self, directory: Path, max_bytes: int, keep: int = 10) -> None:
        if max_bytes < 1024 or keep < 1:
            raise ValueError("a capture log needs max_bytes >= 1024 and keep >= 1")
        self.directory = directory
        self.max_bytes = max_bytes
        self.keep = keep
        # One record's raw bytes (stored as hex, twice their size) fill at most a quarter of a
        # file, so a file holds several and the log stays within about keep * max_bytes.
        self._max_data = max_bytes // 8
        self.records_written = 0
        self.records_lost = 0
        self._file: IO[str] | None = None
        self._size = 0
        self._failing = False
        self._lock = threading.Lock()

    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        entry: dict[str, Any] = {"time": datetime.now(UTC).isoformat(timespec="microseconds")}
        entry["kind"] = kind
        entry.update(fields)
        if data is not None:
            if len(data) > self._max_data:
                entry["truncated_from"] = len(data)
                data = data[: self._max_data]
            entry["hex"] = bytes(data).hex()
        try:
            line = json.dumps(entry, default=_json_value, ensure_ascii=False) + "\n"
        except (TypeError, ValueError) as error:  # e.g. a circular structure in the fields
            line = json.dumps({"time": entry["time"], "kind": kind, "error": str(error)}) + "\n"
        with self._lock:
            self._write(line)

    def _write(self, line: str) -> None:
        encoded_size = len(line.encode("utf-8", "surrogatepass"))
        try:
            if self._file is not None and self._size and self._size + encoded_size > self.max_bytes:
                self._rotate()
            if self._file is None:
                self._open()
            assert self._file is not None
            self._file.write(line)
            self._file.flush()
        except (OSError, UnicodeError) as error:
            self.records_lost += 1
            self._close_file()
            if not self._failing:
                self._failing = True
                log.error("cannot write the capture log in %s: %s", self.directory, error)
            return
        if self._failing:
            self._failing = False
            log.warning("the capture log is being written again (%d lost)", self.records_lost)
        self._size += encoded_size
        self.records_written += 1

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / CURRENT_FILE
        self._file = path.open("a", encoding="utf-8", errors="surrogatepass")
        self._size = path.stat().st_size

    def _rotate(self) -> None:
        self._close_file()
        (self.directory / rotated_file(self.keep - 1)).unlink(missing_ok=True)
        for index in range(self.keep - 2, -1, -1):
            source = self.directory / rotated_file(index)
            if source.exists():
                source.replace(self.directory / rotated_file(index + 1))

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def close(self) -> None:
        with self._lock:
            self._close_file()

    def status(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "records_written": self.records_written,
            "records_lost": self.records_lost,
        }
