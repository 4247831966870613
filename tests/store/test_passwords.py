"""The password hash: only the right password verifies; stored parameters are honoured."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.store import PasswordHasher

FAST = PasswordHasher(n=16)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=64), st.text(max_size=64))
def test_only_the_right_password_verifies(password: str, other: str) -> None:
    stored = FAST.hash(password)
    assert FAST.verify(password, stored)
    assert FAST.verify(other, stored) == (other == password)


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=32))
def test_the_same_password_hashes_differently_each_time(password: str) -> None:
    assert FAST.hash(password) != FAST.hash(password)


def test_parameters_travel_with_the_hash() -> None:
    stored = PasswordHasher(n=32, r=4).hash("a password")
    assert stored.startswith("scrypt$32$4$1$")
    assert FAST.verify("a password", stored)  # a hasher with other defaults still verifies


@given(st.text(max_size=80))
def test_unreadable_stored_hashes_verify_nothing(stored: str) -> None:
    assert not FAST.verify("a password", stored)


def test_absurd_stored_parameters_are_refused_not_run() -> None:
    assert not FAST.verify("pw", "scrypt$1073741824$8$1$AAAA$AAAA")
    assert not FAST.verify("pw", "scrypt$15$8$1$AAAA$AAAA")
