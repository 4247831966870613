"""What the capture log keeps of an HTTP request fakecloud does not serve: pure, no I/O.

The record has to teach (method, host, target, headers, the start of the body) without
keeping credentials. Security consideration: Authorization, Cookie and any header or query
parameter whose name says password, token, secret or key are redacted here, before anything is
written; only their form is kept (the scheme of an Authorization header, cookie names, lengths).
Body secrets named as fields (`password=...`) stay in the private log and are replaced by
`fakecloud captures export` like every other capture (docs/capture.md).
"""

from __future__ import annotations

import codecs
from typing import Any
from urllib.parse import unquote_plus

from fakecloud.capture.secret_names import Category, classify_key

MAX_TARGET_CHARS = 2048
MAX_HEADERS = 64
MAX_HEADER_VALUE_CHARS = 1024
MAX_BODY_PREFIX = 2048
_SECRET_CATEGORIES = frozenset({Category.PASSWORD, Category.TOKEN, Category.P2P_KEY})


def _hidden(value: str) -> str:
    return f"<redacted, {len(value)} chars>"


def _is_secret_name(name: str) -> bool:
    return classify_key(name) in _SECRET_CATEGORIES


def redact_header(name: str, value: str) -> str:
    """A header value fit for the capture log."""
    lowered = name.lower()
    if lowered in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.partition(" ")
        return f"{scheme} {_hidden(credentials)}" if credentials else _hidden(value)
    if lowered == "cookie":
        # Names are the server's choice and kept; a piece without '=' is all value.
        pieces = (part.strip().partition("=") for part in value.split(";"))
        return "; ".join(
            f"{name.strip()}=<redacted>" if separator else "<redacted>"
            for name, separator, _ in pieces
            if name or separator
        )
    return _hidden(value) if _is_secret_name(lowered) else value


def redact_query(query: str) -> str:
    """The query string as sent, except that each secret-named parameter's value is hidden."""
    parts = []
    for part in query.split("&"):
        key, separator, value = part.partition("=")
        if separator and _is_secret_name(unquote_plus(key)):
            value = _hidden(unquote_plus(value))
        parts.append(f"{key}{separator}{value}")
    return "&".join(parts)


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit], True)


def request_record(
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body_prefix: bytes,
    body_length: int,
    http_version: str = "1.1",
) -> dict[str, Any]:
    """The `decoded` part of an `http` capture record. Every part is bounded (the target, the
    number and size of headers, the body prefix), so a record stays small whatever arrived."""
    redacted_query = redact_query(query)
    target, cut_target = _cut(path + (f"?{redacted_query}" if query else ""), MAX_TARGET_CHARS)
    kept: dict[str, str] = {}
    for name, value in headers[:MAX_HEADERS]:
        key = name.lower()
        shown, _ = _cut(redact_header(key, value), MAX_HEADER_VALUE_CHARS)
        # Repeated headers are combined, as HTTP allows (cookies with ';').
        separator = "; " if key == "cookie" else ", "
        kept[key] = f"{kept[key]}{separator}{shown}" if key in kept else shown
    record: dict[str, Any] = {
        "method": method,
        "host": kept.get("host"),
        "target": target,
        "http_version": http_version,
        "headers": kept,
        "body_length": body_length,
    }
    prefix = body_prefix[:MAX_BODY_PREFIX]
    if prefix:
        try:
            # Not final: a character cut by the prefix limit is dropped, not an error.
            record["body"] = codecs.getincrementaldecoder("utf-8")().decode(prefix, final=False)
        except UnicodeDecodeError:
            record["body_hex"] = prefix.hex()
    truncated = [
        part
        for part, cut in (
            ("target", cut_target),
            ("headers", len(headers) > MAX_HEADERS),
            ("body", body_length > len(prefix)),
        )
        if cut
    ]
    if truncated:
        record["truncated"] = truncated
    return record
