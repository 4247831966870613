"""Record-time blanking of passwords and tokens: pure (records in, records out).

`remove_credentials` runs before anything is written to the capture log, so no capture file
ever holds a password or token, however malformed the traffic that carried it. Export-time
redaction (redact.py) then also hides MACs and p2p keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from fakecloud.capture.secret_names import (
    MIN_LITERAL,
    PASSWORD_VALUE,
    PASSWORD_WORDS,
    QUOTED_VALUE,
    TOKEN_WORDS,
    Category,
    classify_key,
)

# A credential's key is found wherever a password or token word occurs, even inside a longer
# word or right after binary garbage (unlike KEY, which needs a clean word start). The bounded,
# possessive tail (ample for "CX_PASSWD" or "password_confirmation") keeps the search linear.
# It runs on lower-cased text, case-sensitively: about ten times faster than an (?i) pattern.
_CREDENTIAL_KEY = re.compile(
    "(?:" + "|".join(PASSWORD_WORDS + TOKEN_WORDS) + r")[a-z0-9_.\-]{0,32}+"
    r"\"?[ \t]*[=:][ \t]*(\"?)"
)
_CREDENTIAL_KEY_ANY_CASE = re.compile(_CREDENTIAL_KEY.pattern, re.IGNORECASE)
_BLANK = "*"
_MAX_CREDENTIALS = 256  # per text; past this the rest of the text is blanked
_MAX_LITERAL = 1024
# What a caller that redacts on its own writes (web.request_record): it holds no secret, and
# keeping it keeps the scheme and cookie names readable.
_ALREADY_REDACTED = re.compile(
    r"(?:[\w.\-]+ |[\w.\-]+=)?<redacted(?:, \d+ chars)?>(?:; [\w.\-]+=<redacted>)*"
)


def _credential_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of credential values: quoted to the closing quote, else to a line or field end."""
    lowered = text.lower()
    keys, searched = _CREDENTIAL_KEY, lowered
    if len(lowered) != len(text):  # a few non-Latin letters lower-case to two characters
        keys, searched = _CREDENTIAL_KEY_ANY_CASE, text
    position = 0
    for _ in range(_MAX_CREDENTIALS):
        key = keys.search(searched, position)
        if key is None:
            return
        value_pattern = QUOTED_VALUE if key.group(1) else PASSWORD_VALUE
        value = value_pattern.match(text, key.end())
        assert value is not None  # both patterns match the empty string
        position = max(value.end(), key.end())
        if value.end() > key.end():
            yield key.end(), value.end()
    # Security consideration: so many credentials in one record is an attack on this loop;
    # blanking the rest costs nothing and hides whatever it holds.
    if position < len(text):
        yield position, len(text)


class _Credentials:
    """The credentials one record holds, so each is blanked wherever else it appears too."""

    def __init__(self) -> None:
        self._texts: set[str] = set()
        self._raw: set[str] = set()  # latin-1 views of the secrets' bytes
        self._patterns: dict[bool, re.Pattern[str] | None] = {}
        self.removed = False

    def learn(self, secret: str, *, raw: bool) -> None:
        if not MIN_LITERAL <= len(secret) <= _MAX_LITERAL:
            # Too short to blank everywhere, or too long to be one credential (a quote left
            # open swallows the rest of a frame): it is still blanked where it is named.
            return
        self._patterns.clear()
        if raw:
            self._raw.add(secret)
            encoded = secret.encode("latin-1")
            self._texts.update({encoded.decode("utf-8", "replace"), secret})
        else:
            self._texts.add(secret)
            self._raw.add(secret.encode("utf-8", "surrogatepass").decode("latin-1"))

    def learn_text(self, text: str, *, raw: bool) -> None:
        for start, end in _credential_spans(text):
            self.learn(text[start:end], raw=raw)

    def pattern(self, *, raw: bool) -> re.Pattern[str] | None:
        if raw not in self._patterns:
            literals = sorted(self._raw if raw else self._texts, key=len, reverse=True)
            self._patterns[raw] = (
                re.compile("|".join(re.escape(item) for item in literals)) if literals else None
            )
        return self._patterns[raw]

    def blank(self, text: str, *, raw: bool) -> str:
        """The text with every named value and every known credential overwritten, length kept
        (so a captured frame's own length fields still match, and replay still frames it)."""
        pieces = []
        position = 0
        for start, end in _credential_spans(text):
            pieces += [text[position:start], _BLANK * (end - start)]
            position = end
        blanked = "".join([*pieces, text[position:]]) if pieces else text
        literal = self.pattern(raw=raw)
        if literal is not None:
            blanked = literal.sub(lambda match: _BLANK * len(match.group(0)), blanked)
        self.removed = self.removed or blanked != text
        return blanked


def _plain(value: Any) -> Any:
    """JSON-shaped view of a field value: containers kept, bytes kept, anything else a string."""
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, set | frozenset):
        return list(value)
    if value is None or isinstance(value, str | bytes | int | float | Mapping | list | tuple):
        return value
    return str(value)


def _learn_field(value: Any, key: str | None, found: _Credentials) -> None:
    value = _plain(value)
    named = key is not None and classify_key(key) in (Category.PASSWORD, Category.TOKEN)
    if isinstance(value, str):
        if named and not _ALREADY_REDACTED.fullmatch(value):
            found.learn(value, raw=False)
        found.learn_text(value, raw=False)
    elif isinstance(value, bytes):
        text = value.decode("latin-1")
        if named:
            found.learn(text, raw=True)
        found.learn_text(text, raw=True)
    elif isinstance(value, Mapping):
        for inner_key, inner in value.items():
            _learn_field(str(inner_key), None, found)
            _learn_field(inner, str(inner_key), found)
    elif isinstance(value, list | tuple):
        for inner in value:
            _learn_field(inner, key, found)


def _blank_field(value: Any, key: str | None, found: _Credentials) -> Any:
    value = _plain(value)
    named = key is not None and classify_key(key) in (Category.PASSWORD, Category.TOKEN)
    if isinstance(value, bool) or value is None:
        return value
    if named and isinstance(value, str) and _ALREADY_REDACTED.fullmatch(value):
        return value
    if named and isinstance(value, str | int | float | bytes):
        found.removed = True
        if isinstance(value, bytes):
            return _BLANK.encode() * len(value)
        return _BLANK * len(str(value))
    if isinstance(value, str):
        return found.blank(value, raw=False)
    if isinstance(value, bytes):
        return found.blank(value.decode("latin-1"), raw=True).encode("latin-1")
    if isinstance(value, Mapping):
        return {
            found.blank(str(inner_key), raw=False): _blank_field(inner, str(inner_key), found)
            for inner_key, inner in value.items()
        }
    if isinstance(value, list | tuple):
        return [_blank_field(inner, key, found) for inner in value]
    return value


def remove_credentials(
    fields: Mapping[str, Any], data: bytes | None
) -> tuple[dict[str, Any], bytes | None, bool]:
    """Fields and raw bytes of a record about to be written, with every password and token
    overwritten by '*'s, and whether anything was.

    Security consideration: this runs in the capture log's record path, for every caller, so a
    login no parser understood still cannot put its password on disk. A credential split across
    two records (its key in one TCP read, its value in the next) is beyond what one record shows.
    """
    found = _Credentials()
    _learn_field(dict(fields), None, found)
    if data is not None:
        found.learn_text(data.decode("latin-1"), raw=True)
    cleaned = {key: _blank_field(value, key, found) for key, value in fields.items()}
    cleaned_data = None
    if data is not None:
        cleaned_data = found.blank(data.decode("latin-1"), raw=True).encode("latin-1")
    return cleaned, cleaned_data, found.removed
