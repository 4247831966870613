"""Reading captures back: the line decoder is fuzzed, damaged lines are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.capture.records import (
    CaptureFormatError,
    capture_files,
    decode_record,
    preview,
    read_records,
    record_data,
)


@given(st.text())
def test_decode_record_returns_a_record_or_raises_its_own_error(line: str) -> None:
    try:
        record = decode_record(line)
    except CaptureFormatError:
        return
    assert isinstance(record["kind"], str)


@given(st.binary())
def test_decode_record_on_arbitrary_bytes(raw: bytes) -> None:
    try:
        decode_record(raw.decode("latin-1"))
    except CaptureFormatError:
        pass


@pytest.mark.parametrize(
    "line",
    ["", "[]", '{"kind": 1}', '{"time": "x"}', "[" * 100_000, '{"kind": "x"'],
)
def test_non_records_are_refused(line: str) -> None:
    with pytest.raises(CaptureFormatError):
        decode_record(line)


def test_damaged_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b'{"kind": "a"}\nnot json\n\n{"kind": "b", "hex": "zz"}\n{"kind": "c", "h')
    bad: list[int] = []
    records = list(read_records(path, lambda number, _reason: bad.append(number)))
    assert [record["kind"] for record in records] == ["a", "b"]
    assert bad == [2, 5]
    assert record_data(records[1]) is None
    assert record_data({"kind": "x", "hex": "0aff"}) == b"\n\xff"


def test_capture_files_oldest_first(tmp_path: Path) -> None:
    names = ("capture.jsonl", "capture.1.jsonl", "capture.10.jsonl", "capture.2.jsonl", "x.txt")
    for name in names:
        (tmp_path / name).write_text("")
    names = [path.name for path in capture_files(tmp_path)]
    assert names == ["capture.10.jsonl", "capture.2.jsonl", "capture.1.jsonl", "capture.jsonl"]
    assert capture_files(tmp_path / "missing") == []


def test_preview() -> None:
    assert preview(b"HI\x00") == "48 49 00 |HI.|"
    assert preview(bytes(40), limit=4).endswith("|....| (+36 bytes)")
