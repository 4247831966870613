"""Tend's `dttm` timestamps (event times, the `endDttm` query parameter): pure, no I/O.

Public clients write them with JavaScript's `Date.toISOString()`: `2024-05-01T10:00:00.123Z`.
fakecloud writes that form and reads it, any other ISO 8601 date-time (with or without an
offset; without one it is UTC) and, tolerantly, epoch milliseconds (all digits) [I].
"""

from __future__ import annotations

from datetime import UTC, datetime

MAX_DTTM_CHARS = 64
_MAX_EPOCH_DIGITS = 14  # epoch milliseconds up to the year 5138


class DttmError(ValueError):
    """A text that is not a date-time fakecloud can read."""


def parse_dttm(text: str) -> datetime:
    """An aware UTC datetime from `text`; DttmError for anything else."""
    text = text.strip()
    if not text or len(text) > MAX_DTTM_CHARS:
        raise DttmError(f"a date-time has 1 to {MAX_DTTM_CHARS} characters")
    if text.isascii() and text.isdigit():
        if len(text) > _MAX_EPOCH_DIGITS:
            raise DttmError("epoch milliseconds out of range")
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise DttmError(f"epoch milliseconds out of range: {error}") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DttmError(f"{text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # an offset that moves the time past year 1 or 9999
        raise DttmError(f"{text!r} is out of range") from None


def format_dttm(moment: datetime) -> str:
    """`2024-05-01T10:00:00.123Z`, the form `Date.toISOString()` writes (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
