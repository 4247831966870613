"""java.util.Properties text codec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fakecloud.net.properties import (
    Properties,
    PropertiesError,
    encode_properties,
    java_timestamp,
    parse_properties,
)


def test_the_belkin_frame_properties() -> None:
    parsed = parse_properties(b"#Fri Mar 08 13:15:53 PST 2013\nudp-port=0\n")
    assert parsed.pairs == [("udp-port", "0")]


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        (b"a=1\nb: 2\nc 3\n", [("a", "1"), ("b", "2"), ("c", "3")]),
        (b"  a = 1 \n", [("a", "1 ")]),
        (b"a\n", [("a", "")]),
        (b"# comment\n! bang\n\n a=1", [("a", "1")]),
        (b"a=one \\\n    two\n", [("a", "one two")]),
        (b"a=x\\\\\nb=y", [("a", "x\\"), ("b", "y")]),
        (b"k\\ ey\\=x=v\\:w", [("k ey=x", "v:w")]),
        (b"a=\\u00e9\\t\\n\\q", [("a", "é\t\nq")]),
        (b"a=\\uD83D\\uDE00", [("a", "😀")]),
        (b"a=\xe9", [("a", "é")]),
        (b"a=1\r\nb=2\rc=3", [("a", "1"), ("b", "2"), ("c", "3")]),
        (b"a=1\na=2\n", [("a", "1"), ("a", "2")]),
        (b"a=\\\n#not a comment", [("a", "#not a comment")]),
        (b"a=b\\", [("a", "b")]),
    ],
)
def test_parse(text: bytes, pairs: list[tuple[str, str]]) -> None:
    assert parse_properties(text).pairs == pairs


def test_duplicates_are_kept_and_the_dict_view_takes_the_last() -> None:
    props = parse_properties(b"CX_UNAME=\nmode=0\nCX_UNAME=x\nmode=0\n")
    assert len(props) == 4
    assert props.as_dict() == {"CX_UNAME": "x", "mode": "0"}
    assert props["CX_UNAME"] == "x" and "mode" in props and props.get("nope") is None
    assert props.first("nope", "CX_UNAME") == "x"
    with pytest.raises(KeyError):
        props["nope"]


@pytest.mark.parametrize("bad", [b"a=\\u12", b"a=\\uZZZZ", b"\\u00g0=1"])
def test_malformed_unicode_escape(bad: bytes) -> None:
    with pytest.raises(PropertiesError):
        parse_properties(bad)


def test_encode_escapes_like_java() -> None:
    encoded = encode_properties({"a key": " v=1:#!\n", "é": "😀"})
    assert encoded == b"a\\ key=\\ v\\=1\\:\\#\\!\\n\n\\u00E9=\\uD83D\\uDE00\n"


def test_encode_with_timestamp_comment() -> None:
    stamp = java_timestamp(datetime(2013, 3, 8, 13, 15, 53, tzinfo=UTC))
    assert stamp == "Fri Mar 08 13:15:53 UTC 2013"
    encoded = encode_properties([("udp-port", "0")], comment=stamp)
    assert encoded == b"#Fri Mar 08 13:15:53 UTC 2013\nudp-port=0\n"
    with pytest.raises(PropertiesError):
        encode_properties({}, comment="two\nlines")


pairs_strategy = st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=8)


@given(pairs_strategy)
def test_round_trip(pairs: list[tuple[str, str]]) -> None:
    assert parse_properties(encode_properties(pairs)) == Properties(pairs)
    assert parse_properties(encode_properties(pairs, comment=java_timestamp())).pairs == pairs


@given(st.binary(max_size=300))
def test_parse_raises_only_its_own_error(data: bytes) -> None:
    try:
        parse_properties(data)
    except PropertiesError:
        pass


# -- the regular-expression scans, against Java's character-by-character reading ---------------

JAVA_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}
JAVA_UNESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def escape_char_by_char(text: str, *, is_key: bool) -> str:
    """How Java's Properties.store writes a key or value: one character at a time."""
    out = []
    for index, char in enumerate(text):
        if char in JAVA_ESCAPES:
            out.append(JAVA_ESCAPES[char])
        elif char in "=:#!" or (char == " " and (is_key or index == 0)):
            out.append("\\" + char)
        elif not 0x20 <= ord(char) <= 0x7E:
            units = char.encode("utf-16-be", "surrogatepass")
            out.extend(f"\\u{units[i] << 8 | units[i + 1]:04X}" for i in range(0, len(units), 2))
        else:
            out.append(char)
    return "".join(out)


def unescape_char_by_char(text: str) -> str:
    """How Java's Properties.load reads an escaped key or value."""
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char != "\\":
            out.append(char)
            index += 1
        elif index + 1 == len(text):
            index += 1  # a lone trailing backslash is dropped
        elif text[index + 1] == "u":
            digits = text[index + 2 : index + 6]
            if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise PropertiesError("malformed \\uXXXX escape")
            out.append(chr(int(digits, 16)))
            index += 6
        else:
            out.append(JAVA_UNESCAPES.get(text[index + 1], text[index + 1]))
            index += 2
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")


# Text rich in what gets escaped (specials, spaces, controls, non-ASCII, surrogates) and in
# what does not.
escapable_text = st.text(
    alphabet=st.one_of(st.sampled_from(" \\=:#!\t\n\r\f\x00\x7f~é\ud800😀a"), st.characters()),
    max_size=40,
)


@settings(max_examples=300)
@given(st.tuples(st.sampled_from(["", " ", "\\", "é"]), escapable_text).map("".join), st.booleans())
@example(" lead  and inner spaces", False)
@example("a key: with=specials#!", True)
def test_escape_writes_what_java_writes(text: str, is_key: bool) -> None:
    escaped = escape_char_by_char(text, is_key=is_key)
    if is_key:
        assert encode_properties([(text, "")]) == f"{escaped}=\n".encode("latin-1")
    else:
        assert encode_properties([("k", text)]) == f"k={escaped}\n".encode("latin-1")


# Text made mostly of what escapes are made of, so escapes, good and bad, are common.
escape_heavy_text = st.text(alphabet=st.sampled_from("\\u0aAfFgtnr=:#! é\x00"), max_size=40)


@settings(max_examples=300)
@given(st.one_of(escape_heavy_text, st.text(st.characters(max_codepoint=0xFF), max_size=40)))
@example("a\\u00e9\\uD83D\\uDE00\\t\\q\\")
@example("\\u12")
def test_unescape_reads_what_java_reads(text: str) -> None:
    value = text.replace("\n", "").replace("\r", "").lstrip(" \t\f")
    if (len(value) - len(value.rstrip("\\"))) % 2:
        value += "\\"  # an odd run of trailing backslashes would continue the line
    line = f"k={value}".encode("latin-1")
    try:
        expected = unescape_char_by_char(value)
    except PropertiesError:
        with pytest.raises(PropertiesError):
            parse_properties(line)
    else:
        assert parse_properties(line).pairs == [("k", expected)]


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("ab\\=: \t\fé"), min_size=1, max_size=30))
@example("\\ key\\=x=v")
def test_a_key_ends_at_the_first_unescaped_separator(text: str) -> None:
    line = "x" + text  # never blank, never a comment
    if (len(line) - len(line.rstrip("\\"))) % 2:
        line += "\\"  # not a continuation line
    index = 0
    while index < len(line) and line[index] not in "=: \t\f":
        index += 2 if line[index] == "\\" else 1
    key = parse_properties(line.encode("latin-1")).pairs[0][0]
    assert key == unescape_char_by_char(line[:index])
