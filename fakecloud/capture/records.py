"""Reading capture files back: one record a line, tolerant of damaged lines."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

CURRENT_FILE = "capture.jsonl"
MAX_LINE_CHARS = 16 << 20
_ROTATED_NAME = re.compile(r"capture\.(\d{1,6})\.jsonl")


def rotated_file(index: int) -> str:
    """capture.jsonl is index 0, then capture.1.jsonl (the newest rotated), capture.2.jsonl..."""
    return CURRENT_FILE if index == 0 else f"capture.{index}.jsonl"


class CaptureFormatError(ValueError):
    """A capture line that is not a record."""


def decode_record(line: str) -> dict[str, Any]:
    """One line of a capture file as a record (a JSON object with a string `kind`)."""
    if len(line) > MAX_LINE_CHARS:
        raise CaptureFormatError("line too long")
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise CaptureFormatError(f"not JSON: {error}") from None
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        raise CaptureFormatError("not a capture record")
    return value


def record_data(record: Mapping[str, Any]) -> bytes | None:
    """The raw bytes of a record, or None when it has none (or they are unreadable)."""
    text = record.get("hex")
    if not isinstance(text, str):
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def capture_files(directory: Path) -> list[Path]:
    """The capture files in a folder, oldest first (the highest rotation number first)."""
    if not directory.is_dir():
        return []
    rotated = sorted(
        (int(match.group(1)), path)
        for path in directory.iterdir()
        if (match := _ROTATED_NAME.fullmatch(path.name))
    )
    files = [path for _, path in reversed(rotated)]
    current = directory / rotated_file(0)
    if current.is_file():
        files.append(current)
    return files


def read_records(
    path: Path, on_bad_line: Callable[[int, str], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Records of one file in order; damaged lines (a crash mid-write) are skipped and reported
    to `on_bad_line(line_number, reason)`."""
    with path.open(encoding="utf-8", errors="surrogateescape") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield decode_record(line)
            except CaptureFormatError as error:
                if on_bad_line is not None:
                    on_bad_line(number, str(error))


def preview(data: bytes, limit: int = 32) -> str:
    """'48 45 4c 4c 4f |HELLO|' for the first `limit` bytes, printable ASCII shown as text."""
    head = data[:limit]
    text = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in head)
    more = f" (+{len(data) - limit} bytes)" if len(data) > limit else ""
    return f"{head.hex(' ')} |{text}|{more}"
