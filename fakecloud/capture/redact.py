"""Redaction of capture records, so owners can share them: pure (records in, records out).

Two stages. At record time `remove_credentials` blanks passwords and tokens before anything is
written, so no capture file ever holds one, however malformed the traffic that carried it. At
export `redact_records` also hides MACs and p2p keys, which the owner's own log keeps readable.

Secrets are found in two ways: by name (a field, `key=value`, `key: value` or `"key": "value"`
whose key names a password, token, p2p key or MAC, also inside raw bytes read as latin-1) and by
shape (MAC addresses). Every secret found anywhere is then replaced everywhere, in every record,
by a stable pseudonym such as PASSWORD-1 or MAC-2: the same secret always gets the same name
within one export, so the traffic still makes sense to whoever reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Any

from fakecloud.capture.records import record_data


class Category(StrEnum):
    PASSWORD = "PASSWORD"
    TOKEN = "TOKEN"
    P2P_KEY = "P2PKEY"
    MAC = "MAC"


# Fields that never hold a secret and must stay readable (the time would otherwise be mangled by
# a short secret that happens to match digits of it).
_PLAIN_FIELDS = frozenset({"time", "kind", "direction", "tls", "local_port", "truncated_from"})
_MIN_LITERAL = 4  # shorter secrets are only replaced where they are named, not everywhere
_KEY = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z][A-Za-z0-9_.\-]{0,63})\"?[ \t]*[=:][ \t]*(\"?)")
_QUOTED_VALUE = re.compile(r"(?:[^\"\\]|\\.)*", re.DOTALL)
# A password ends only at a line or field end (it may hold spaces, '+', ','); keys and tokens
# are single words.
_PASSWORD_VALUE = re.compile(r"[^\r\n\0&]*")
_WORD_VALUE = re.compile(r"[^\r\n\0&+,;|\s\"'<>]*")
_HEX = "[0-9A-Fa-f]"
_MAC = re.compile(
    rf"(?<![0-9A-Fa-f])(?:{_HEX}{{2}}(?P<sep>[:\-])(?:{_HEX}{{2}}(?P=sep)){{4}}{_HEX}{{2}}"
    rf"|{_HEX}{{4}}\.{_HEX}{{4}}\.{_HEX}{{4}}|{_HEX}{{12}})(?![0-9A-Fa-f])"
)
_MAC_SEPARATORS = re.compile(r"[:\-.]")
_TOKEN_MARKER = ".accessToken:"


_PASSWORD_WORDS = ("pass", "pwd", "secret", "authorization")
_TOKEN_WORDS = ("token", "cookie")


def classify_key(name: str) -> Category | None:
    """Which kind of secret a field or key with this name holds, if any."""
    key = name.casefold()
    if any(word in key for word in _PASSWORD_WORDS):
        return Category.PASSWORD
    if any(word in key for word in _TOKEN_WORDS):
        return Category.TOKEN
    if key == "aes" or any(word in key for word in ("p2pkey", "p2p_key", "p2p-key", "aes_key")):
        return Category.P2P_KEY
    if "mac" in key:
        return Category.MAC
    return None


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
            elif len(secret) >= _MIN_LITERAL:
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
    for match in _KEY.finditer(text):
        if match.start() < position:
            continue
        category = classify_key(match.group(1))
        if category is None or category is Category.MAC:
            continue  # MACs are found by their shape
        start = match.end()
        if match.group(2):
            value = _QUOTED_VALUE.match(text, start)
        elif category is Category.PASSWORD:
            value = _PASSWORD_VALUE.match(text, start)
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


# --- record time ----------------------------------------------------------------------------

# A credential's key is found wherever a password or token word occurs, even inside a longer
# word or right after binary garbage (unlike _KEY, which needs a clean word start). The bounded,
# possessive tail (ample for "CX_PASSWD" or "password_confirmation") keeps the search linear.
# It runs on lower-cased text, case-sensitively: about ten times faster than an (?i) pattern.
_CREDENTIAL_KEY = re.compile(
    "(?:" + "|".join(_PASSWORD_WORDS + _TOKEN_WORDS) + r")[a-z0-9_.\-]{0,32}+"
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
        value_pattern = _QUOTED_VALUE if key.group(1) else _PASSWORD_VALUE
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
        if not _MIN_LITERAL <= len(secret) <= _MAX_LITERAL:
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
