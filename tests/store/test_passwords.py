"""The password hash: only the right password verifies; stored parameters are honoured."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.store import PasswordHasher, Store
from fakecloud.store.passwords import VerificationCache
from tests.store.conftest import FAST_HASHER, PASSWORD

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


def test_a_success_checked_before_a_password_change_is_not_remembered() -> None:
    cache = VerificationCache()
    before = cache.generation  # read with the old hash, before the (slow) check
    cache.forget("alice")  # the password changes meanwhile
    cache.remember("alice", "old password", stored_hash="old", generation=before)
    assert not cache.hit("alice", "old password", "old")
    cache.remember("alice", "new password", stored_hash="new", generation=cache.generation)
    assert cache.hit("ALICE", "new password", "new")
    cache.forget("Alice")
    assert not cache.hit("alice", "new password", "new")


def test_a_success_counts_only_against_the_hash_it_was_checked_with() -> None:
    cache = VerificationCache()
    cache.remember("alice", "pw", stored_hash="hash one")
    assert not cache.hit("alice", "pw", "hash two")  # changed by another process
    assert not cache.hit("alice", "pw", "hash one")  # and the entry is gone


def test_a_password_changed_by_another_process_ends_the_cached_one(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    assert store.verify_password("alice", PASSWORD) is not None
    assert store.cached_password("alice", PASSWORD) is not None
    other = Store(store.path, hasher=FAST_HASHER)  # the CLI, on the same database
    try:
        other.set_password("alice", "a brand new password")
    finally:
        other.close()
    assert store.cached_password("alice", PASSWORD) is None
    assert store.verify_password("alice", PASSWORD) is None


def test_password_change_during_a_check_leaves_no_stale_success(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    record = store.password_record("alice")  # as AsyncStore reads it before the pool runs
    store.set_password("alice", "a brand new password")
    assert store.check_password(record, PASSWORD) is not None  # that hash did match ...
    assert store.cached_password("alice", PASSWORD) is None  # ... but is not remembered
    assert store.verify_password("alice", PASSWORD) is None
