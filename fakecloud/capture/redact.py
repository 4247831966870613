"""Redaction of capture records, so owners can share them: pure (records in, records out).

Two stages. At record time `remove_credentials` (credentials.py) blanks passwords and tokens
before anything is written, so no capture file ever holds one, however malformed the traffic
that carried it. At export `redact_records` (here) also hides MACs and p2p keys, which the
owner's own log keeps readable.

Secrets are found in two ways: by name (a field, `key=value`, `key: value` or `"key": "value"`
whose key names a password, token, p2p key or MAC, also inside raw bytes read as latin-1) and by
shape (MAC addresses). Every secret found anywhere is then replaced everywhere, in every record,
by a stable pseudonym such as PASSWORD-1 or MAC-2: the same secret always gets the same name
within one export, so the traffic still makes sense to whoever reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fakecloud.capture.records import record_data
from fakecloud.capture.secret_names import (
    KEY,
    MIN_LITERAL,
    PASSWORD_VALUE,
    QUOTED_VALUE,
    Category,
    classify_key,
)

# Fields that never hold a secret and must stay readable (the time would otherwise be mangled by
# a short secret that happens to match digits of it).
_PLAIN_FIELDS = frozenset({"time", "kind", "direction", "tls", "local_port", "truncated_from"})
_WORD_VALUE = re.compile(r"[^\r\n\0&+,;|\s\"'<>]*")
_HEX = "[0-9A-Fa-f]"
_MAC = re.compile(
    rf"(?<![0-9A-Fa-f])(?:{_HEX}{{2}}(?P<sep>[:\-])(?:{_HEX}{{2}}(?P=sep)){{4}}{_HEX}{{2}}"
    rf"|{_HEX}{{4}}\.{_HEX}{{4}}\.{_HEX}{{4}}|{_HEX}{{12}})(?![0-9A-Fa-f])"
)
_MAC_SEPARATORS = re.compile(r"[:\-.]")
_TOKEN_MARKER = ".accessToken:"


def _mac_digits(text: str) -> str | None:
    digits = _MAC_SEPARATORS.sub("", text.strip()).upper()
    return digits if re.fullmatch(f"{_HEX}{{12}}", digits) else None


class Pseudonyms:
    """The secrets seen so far and the name each one is given."""

    def __init__(self) -> None:
        self._names: dict[tuple[Category, str], str] = {}
        self._counts: dict[Category, int] = dict.fromkeys(Category, 0)
        self._patterns: dict[bool, tuple[int, re.Pattern[str], dict[str, str]]] = {}

    def name(self, category: Category, secret: str) -> str:
        if category is Category.MAC:
            secret = _mac_digits(secret) or secret
        key = (category, secret)
        if key not in self._names:
            self._counts[category] += 1
            self._names[key] = f"{category.value}-{self._counts[category]}"
        return self._names[key]

    def learn(self, category: Category, secret: str) -> None:
        if not secret or _is_pseudonym(secret):
            return
        if category is Category.MAC and _mac_digits(secret) is None:
            return
        self.name(category, secret)
        if category is Category.PASSWORD and _TOKEN_MARKER in secret:
            # `<partner>.accessToken:<token>` in the password field: the token alone is secret too.
            self.learn(Category.TOKEN, secret.partition(_TOKEN_MARKER)[2])

    def literals(self, raw_bytes: bool) -> tuple[re.Pattern[str], dict[str, str]]:
        """One pattern matching every known secret (or a MAC by shape), and the replacement of
        each literal. For raw bytes (read as latin-1) it also matches the UTF-8 form of each
        secret and each MAC's six raw bytes."""
        cached = self._patterns.get(raw_bytes)
        if cached is not None and cached[0] == len(self._names):
            return cached[1], cached[2]
        replacements: dict[str, str] = {}
        for (category, secret), pseudonym in self._names.items():
            forms = []
            if category is Category.MAC:
                if raw_bytes:
                    forms.append(bytes.fromhex(secret).decode("latin-1"))
            elif len(secret) >= MIN_LITERAL:
                forms.append(secret)
                if raw_bytes:
                    forms.append(secret.encode("utf-8", "surrogatepass").decode("latin-1"))
            for form in forms:
                replacements.setdefault(form, pseudonym)
        alternatives = [re.escape(form) for form in sorted(replacements, key=len, reverse=True)]
        pattern = re.compile(
            "|".join([f"(?P<literal>{'|'.join(alternatives)})"] if alternatives else [])
            + ("|" if alternatives else "")
            + f"(?P<mac>{_MAC.pattern})"
        )
        self._patterns[raw_bytes] = (len(self._names), pattern, replacements)
        return pattern, replacements


def _is_pseudonym(text: str) -> bool:
    return re.fullmatch(r"(?:PASSWORD|TOKEN|P2PKEY|MAC)-\d+", text) is not None


def _named_values(text: str) -> Iterator[tuple[int, int, Category]]:
    """Spans of values whose key names a secret: (start, end, category)."""
    position = 0
    for match in KEY.finditer(text):
        if match.start() < position:
            continue
        category = classify_key(match.group(1))
        if category is None or category is Category.MAC:
            continue  # MACs are found by their shape
        start = match.end()
        if match.group(2):
            value = QUOTED_VALUE.match(text, start)
        elif category is Category.PASSWORD:
            value = PASSWORD_VALUE.match(text, start)
        else:
            value = _WORD_VALUE.match(text, start)
        assert value is not None  # each pattern matches the empty string
        if value.end() > start:
            position = value.end()
            yield start, value.end(), category


def _learn_text(text: str, pseudonyms: Pseudonyms) -> None:
    for start, end, category in _named_values(text):
        pseudonyms.learn(category, text[start:end])
    for match in _MAC.finditer(text):
        pseudonyms.learn(Category.MAC, match.group(0))


def _redact_text(text: str, pseudonyms: Pseudonyms, raw_bytes: bool = False) -> str:
    pieces: list[str] = []
    position = 0
    for start, end, category in _named_values(text):
        pieces.append(_redact_unnamed(text[position:start], pseudonyms, raw_bytes))
        pieces.append(pseudonyms.name(category, text[start:end]))
        position = end
    pieces.append(_redact_unnamed(text[position:], pseudonyms, raw_bytes))
    return "".join(pieces)


def _redact_unnamed(text: str, pseudonyms: Pseudonyms, raw_bytes: bool) -> str:
    pattern, replacements = pseudonyms.literals(raw_bytes)

    def replace(match: re.Match[str]) -> str:
        literal = match.group("literal") if "literal" in pattern.groupindex else None
        if literal is not None:
            return replacements[literal]
        return pseudonyms.name(Category.MAC, match.group(0))

    return pattern.sub(replace, text)


def _named_secret(value: Any, key: str | None) -> tuple[Category, str] | None:
    """The secret a field holds by its name (a password field's value, a MAC field's MAC)."""
    category = classify_key(key) if key is not None else None
    if category is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    if not text or _is_pseudonym(text):
        return None
    if category is Category.MAC and _mac_digits(text) is None:
        return None
    return category, text


def _walk_learn(value: Any, key: str | None, pseudonyms: Pseudonyms) -> None:
    if (named := _named_secret(value, key)) is not None:
        pseudonyms.learn(*named)
    if isinstance(value, str):
        _learn_text(value, pseudonyms)
    elif isinstance(value, Mapping):
        for inner_key, inner in value.items():
            _learn_text(str(inner_key), pseudonyms)
            _walk_learn(inner, str(inner_key), pseudonyms)
    elif isinstance(value, list | tuple):
        for inner in value:
            _walk_learn(inner, key, pseudonyms)


def _walk_redact(value: Any, key: str | None, pseudonyms: Pseudonyms) -> Any:
    if (named := _named_secret(value, key)) is not None:
        return pseudonyms.name(*named)
    if isinstance(value, str):
        return _redact_text(value, pseudonyms)
    if isinstance(value, Mapping):
        redacted = {}
        for inner_key, inner in value.items():
            name = str(inner_key)
            redacted[_redact_text(name, pseudonyms)] = _walk_redact(inner, name, pseudonyms)
        return redacted
    if isinstance(value, list | tuple):
        return [_walk_redact(inner, key, pseudonyms) for inner in value]
    return value


def _raw_text(record: Mapping[str, Any]) -> str | None:
    data = record_data(record)
    return None if data is None else data.decode("latin-1")


def learn_secrets(
    records: Iterable[Mapping[str, Any]], pseudonyms: Pseudonyms | None = None
) -> Pseudonyms:
    """First pass: every secret the records name or show, each given its pseudonym."""
    pseudonyms = pseudonyms or Pseudonyms()
    for record in records:
        for key, value in record.items():
            if key == "hex":
                raw = _raw_text(record)
                if raw is not None:
                    _learn_text(raw, pseudonyms)
            elif key not in _PLAIN_FIELDS:
                _walk_learn(value, key, pseudonyms)
    return pseudonyms


def redact_record(record: Mapping[str, Any], pseudonyms: Pseudonyms) -> dict[str, Any]:
    """Second pass: the record with every known secret (and any MAC) replaced. Raw bytes are
    redacted as latin-1 text, so redacted bytes no longer keep their original lengths."""
    redacted: dict[str, Any] = {}
    for key, value in record.items():
        if key in _PLAIN_FIELDS:
            redacted[key] = value
        elif key == "hex":
            raw = _raw_text(record)
            if raw is None:
                redacted["hex_unreadable"] = True
                continue
            cleaned = _redact_text(raw, pseudonyms, raw_bytes=True)
            redacted["hex"] = cleaned.encode("latin-1").hex()
            if cleaned != raw:
                redacted["hex_redacted"] = True
        else:
            redacted[_redact_text(key, pseudonyms)] = _walk_redact(value, key, pseudonyms)
    return redacted


def redact_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Both passes over records held in memory (the CLI streams the two passes from disk)."""
    kept = list(records)
    pseudonyms = learn_secrets(kept)
    return [redact_record(record, pseudonyms) for record in kept]
