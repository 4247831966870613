"""Which field and key names hold a secret, and where a named value ends."""

from __future__ import annotations

import pytest

from fakecloud.capture.secret_names import KEY, PASSWORD_VALUE, Category, classify_key


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("CX_PASSWD", Category.PASSWORD),
        ("password_confirmation", Category.PASSWORD),
        ("Authorization", Category.PASSWORD),
        ("myQ.accessToken", Category.TOKEN),
        ("Cookie", Category.TOKEN),
        ("p2p-key", Category.P2P_KEY),
        ("aes", Category.P2P_KEY),
        ("CX_MAC", Category.MAC),
        ("CX_UNAME", None),
        ("model", None),
    ],
)
def test_names_are_classified(name: str, category: Category | None) -> None:
    assert classify_key(name) == category


def test_a_key_is_found_only_at_a_word_start_and_a_password_runs_to_the_field_end() -> None:
    text = "1CX_PASSWD=no CX_PASSWD=two words+more&next=1"
    found = [match.group(1) for match in KEY.finditer(text)]
    assert found == ["CX_PASSWD", "next"]
    value_start = text.index("=two") + 1
    assert PASSWORD_VALUE.match(text, value_start).group(0) == "two words+more"  # type: ignore[union-attr]
