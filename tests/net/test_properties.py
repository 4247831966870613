"""java.util.Properties text codec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
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
