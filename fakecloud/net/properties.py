"""java.util.Properties text, the format of CXNet options and bodies (latin-1, `key=value`).

Order is kept and duplicate keys survive as separate pairs: the Tend login body writes the
same block twice, and a faithful capture needs to show that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime

WHITESPACE = " \t\f"
# A key runs to the first separator (`=`, `:` or whitespace) that is not escaped.
_KEY = re.compile(r"(?:[^\\=: \t\f]|\\.?)*", re.DOTALL)
_NATURAL_LINE = re.compile(r"\r\n|\r|\n")
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_ESCAPE_OUT = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}
_ESCAPED_SPECIALS = "=:#!"
# What _escape writes escaped: outside printable ASCII, a backslash or a special, and a space
# anywhere in a key but only in front of a value. One C-level scan; most text has none.
_ESCAPE_IN_KEY = re.compile(r"[^\x21-\x7e]|[\\=:#!]")
_ESCAPE_IN_VALUE = re.compile(r"^ |[^\x20-\x7e]|[\\=:#!]")
# An escape in read text: `\uXXXX`, a malformed `\u`, or any other character (or none, at the end).
_ESCAPE_IN = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(u)|(.?))", re.DOTALL)


class PropertiesError(ValueError):
    """Text that java.util.Properties would reject (or a value that cannot be written)."""


class Properties:
    """An ordered list of (key, value) pairs with a dict view where the last value wins."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self.pairs: list[tuple[str, str]] = [(str(k), str(v)) for k, v in items]

    def as_dict(self) -> dict[str, str]:
        return dict(self.pairs)

    def get(self, key: str, default: str | None = None) -> str | None:
        for name, value in reversed(self.pairs):
            if name == key:
                return value
        return default

    def first(self, *keys: str) -> str | None:
        """The value of the first of `keys` that is present and non-empty."""
        values = self.as_dict()
        return next((values[key] for key in keys if values.get(key)), None)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return any(name == key for name, _ in self.pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Properties) and other.pairs == self.pairs

    def __repr__(self) -> str:
        return f"Properties({self.pairs!r})"


def _logical_lines(text: str) -> Iterator[str]:
    """Join continuation lines (odd number of trailing backslashes); drop blanks and comments."""
    pending: list[str] = []
    for natural in _NATURAL_LINE.split(text):
        line = natural.lstrip(WHITESPACE)
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2:
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield "".join(pending)
        pending = []
    if pending:
        yield "".join(pending)


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text  # no escape (and, being latin-1, no surrogates to join)
    resolved = _ESCAPE_IN.sub(_unescaped, text)
    # Java writes characters beyond U+FFFF as two \u escapes; join them back.
    return resolved.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")


def _unescaped(escape: re.Match[str]) -> str:
    code, bad_code, escaped = escape.groups()
    if code is not None:
        return chr(int(code, 16))
    if bad_code is not None:
        start = escape.start()
        raise PropertiesError(f"malformed \\uXXXX escape: {escape.string[start : start + 6]!r}")
    # A lone trailing backslash is dropped, as Java does.
    return _SIMPLE_ESCAPES.get(escaped, escaped)


def _split_key(line: str) -> tuple[str, str]:
    key_end = _KEY.match(line)  # matches every line, if only an empty key
    index = key_end.end() if key_end else 0
    key, rest = line[:index], line[index:]
    rest = rest.lstrip(WHITESPACE)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(WHITESPACE)
    return key, rest


def parse_properties(data: bytes) -> Properties:
    """Decode Properties text (latin-1) into ordered pairs."""
    text = bytes(data).decode("latin-1")
    pairs = []
    for line in _logical_lines(text):
        key, value = _split_key(line)
        pairs.append((_unescape(key), _unescape(value)))
    return Properties(pairs)


def _escape(text: str, *, is_key: bool) -> str:
    return (_ESCAPE_IN_KEY if is_key else _ESCAPE_IN_VALUE).sub(_escaped, text)


def _escaped(char_match: re.Match[str]) -> str:
    char = char_match.group()
    if char in _ESCAPE_OUT:
        return _ESCAPE_OUT[char]
    if char in _ESCAPED_SPECIALS or char == " ":
        return "\\" + char
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04X}" for i in range(0, len(units), 2)
    )


def java_timestamp(when: datetime | None = None) -> str:
    """The comment java.util.Properties.store writes, e.g. 'Fri Mar 08 13:15:53 UTC 2013'."""
    moment = when or datetime.now(UTC)
    zone = moment.tzname() or "UTC"
    return moment.strftime(f"%a %b %d %H:%M:%S {zone} %Y")


def encode_properties(
    properties: Properties | Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    comment: str | None = None,
) -> bytes:
    """Encode as Properties text; `comment` (e.g. java_timestamp()) becomes a leading `#` line."""
    pairs = properties if isinstance(properties, Properties) else Properties(properties)
    lines = []
    if comment is not None:
        if _NATURAL_LINE.search(comment) or not comment.isascii():
            raise PropertiesError("a comment must be a single line of ASCII text")
        lines.append("#" + comment)
    lines.extend(f"{_escape(k, is_key=True)}={_escape(v, is_key=False)}" for k, v in pairs)
    return "".join(line + "\n" for line in lines).encode("latin-1")
