"""Pure checks of the store's inputs: MAC normalisation, settings JSON, logins, passwords."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.core.errors import UserError
from fakecloud.store.models import (
    ACCOUNT_ALIAS_FORM,
    MAX_SETTINGS_BYTES,
    decode_json_object,
    encode_json_object,
    new_account_alias,
    normalise_mac,
    report_as_json,
)

CANONICAL = re.compile(r"[0-9A-F]{2}(:[0-9A-F]{2}){5}")
octets = st.lists(st.integers(0, 255), min_size=6, max_size=6)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(octets, st.sampled_from([":", "-", ""]), st.booleans())
def test_every_spelling_of_a_mac_normalises_to_one_form(
    values: list[int], separator: str, upper: bool
) -> None:
    text = separator.join(f"{value:02x}" for value in values)
    text = text.upper() if upper else text
    expected = ":".join(f"{value:02X}" for value in values)
    assert normalise_mac(text) == expected
    assert normalise_mac(f" {expected.lower()} ") == expected


def test_account_aliases_are_short_random_and_never_a_number_or_the_viewer_id() -> None:
    aliases = {new_account_alias() for _ in range(2000)}
    assert len(aliases) > 1990
    for alias in aliases:
        assert ACCOUNT_ALIAS_FORM.fullmatch(alias) and not alias.isdigit()
        assert alias != "fakecloud" and alias[0].isalpha()


@given(st.text(max_size=40))
def test_normalise_mac_accepts_only_macs(text: str) -> None:
    try:
        result = normalise_mac(text)
    except UserError:
        return
    assert CANONICAL.fullmatch(result)


@pytest.mark.parametrize("text", ["0011.22aa.bbcc", "00:11:22:aa:bb:cc", "001122AABBCC"])
def test_known_spellings(text: str) -> None:
    assert normalise_mac(text) == "00:11:22:AA:BB:CC"


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_settings_round_trip(settings: dict[str, Any]) -> None:
    try:
        text = encode_json_object(settings)
    except UserError as error:
        assert "larger" in str(error)
        return
    assert decode_json_object(text) == settings


@given(st.one_of(json_values, st.sets(st.integers()), st.builds(object)))
def test_encode_settings_raises_only_user_errors(value: Any) -> None:
    try:
        text = encode_json_object(value)
    except UserError:
        return
    assert isinstance(json.loads(text), dict)


def test_oversized_settings_are_refused() -> None:
    with pytest.raises(UserError, match="larger"):
        encode_json_object({"blob": "x" * MAX_SETTINGS_BYTES})


@given(st.one_of(st.none(), st.text()))
def test_decoding_stored_text_never_fails(text: str | None) -> None:
    assert isinstance(decode_json_object(text), dict)


def test_reported_properties_are_kept_whatever_they_hold() -> None:
    assert json.loads(report_as_json({"when": b"\x01", "n": 1})) == {"when": "b'\\x01'", "n": 1}
