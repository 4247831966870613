"""Tend's `dttm` timestamps: what JavaScript's toISOString() writes, read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.web.dttm import DttmError, format_dttm, parse_dttm

utc_milliseconds = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # What `new Date(...).toISOString()` writes, as the public Node client sends it.
        ("2024-05-01T10:00:00.123Z", datetime(2024, 5, 1, 10, 0, 0, 123000, UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),  # no zone: UTC
        ("1714557600123", datetime(2024, 5, 1, 10, 0, 0, 123000, UTC)),  # epoch milliseconds
        (" 2024-05-01 ", datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_known_forms(text: str, expected: datetime) -> None:
    assert parse_dttm(text) == expected


@pytest.mark.parametrize(
    "text", ["", "now", "2024-13-01", "2024-05-01T25:00", "9" * 15, "x" * 65, "٢٠٢٤"]
)
def test_unreadable_forms_are_dttm_errors(text: str) -> None:
    with pytest.raises(DttmError):
        parse_dttm(text)


def test_the_written_form_is_javascripts() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 123999, timezone(timedelta(hours=2)))
    assert format_dttm(moment) == "2024-05-01T10:00:00.123Z"
    assert format_dttm(datetime(5, 1, 2)) == "0005-01-02T00:00:00.000Z"


@given(utc_milliseconds)
def test_what_is_written_reads_back(moment: datetime) -> None:
    assert parse_dttm(format_dttm(moment)) == moment


@given(st.text(max_size=80))
def test_any_text_is_a_time_or_a_dttm_error(text: str) -> None:
    try:
        moment = parse_dttm(text)
    except DttmError:
        return
    assert moment.tzinfo is UTC


@given(st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{1,15}([+-][0-9:]{1,6}|Z)?\Z"))
def test_iso_shaped_text_never_raises_anything_else(text: str) -> None:
    try:
        parse_dttm(text)
    except DttmError:
        pass
