"""Accounts, passwords (hashed, cached) and access tokens on a real database."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import (
    Store,
    VerificationCache,
)
from tests.store.conftest import FAST_HASHER, MAC, PASSWORD


def test_there_are_no_default_accounts(store: Store) -> None:
    assert store.list_accounts() == []
    assert store.verify_password("admin", "admin") is None


def test_logins_are_unique_case_insensitively(store: Store) -> None:
    account = store.add_account("Alice", PASSWORD)
    assert account.login == "Alice"
    with pytest.raises(UserError, match="already exists"):
        store.add_account("ALICE", PASSWORD)
    assert store.get_account("alice") == account
    assert store.verify_password("aLiCe", PASSWORD) == account


@pytest.mark.parametrize("password", ["", "1234567", "short"])
def test_short_passwords_are_refused(store: Store, password: str) -> None:
    with pytest.raises(UserError, match="at least 8"):
        store.add_account("bob", password)
    store.add_account("bob", PASSWORD)
    with pytest.raises(UserError, match="at least 8"):
        store.set_password("bob", password)


@pytest.mark.parametrize("login", ["", " bob", "bob ", "a:b", "x\ny", "z" * 129])
def test_bad_logins_are_refused(store: Store, login: str) -> None:
    with pytest.raises(UserError):
        store.add_account(login, PASSWORD)


def test_password_is_stored_only_as_a_salted_hash(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    store.add_account("bob", PASSWORD)
    hashes = [
        row[0] for row in sqlite3.connect(store.path).execute("SELECT password_hash FROM accounts")
    ]
    assert len(set(hashes)) == 2
    assert all(PASSWORD not in stored and stored.startswith("scrypt$16$8$1$") for stored in hashes)


def test_verify_password(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    assert store.verify_password("alice", PASSWORD) is not None
    assert store.verify_password("alice", PASSWORD + "x") is None
    assert store.verify_password("nobody", PASSWORD) is None


def test_set_password_invalidates_the_cached_old_password(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    assert store.verify_password("alice", PASSWORD)  # now cached
    store.set_password("alice", "a brand new password")
    assert store.verify_password("alice", PASSWORD) is None
    assert store.verify_password("alice", "a brand new password")
    with pytest.raises(UserError, match="no account"):
        store.set_password("nobody", PASSWORD)


def test_removed_account_no_longer_logs_in_and_its_cameras_become_unowned(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    assert store.verify_password("alice", PASSWORD)
    token = store.issue_token("alice")
    camera = store.upsert_camera(mac=MAC, owner="alice")
    store.remove_account("ALICE")
    assert store.verify_password("alice", PASSWORD) is None
    assert store.verify_token("alice", token) is None
    kept = store.get_camera(camera.id)
    assert kept is not None and kept.owner is None and kept.alias == MAC
    # A new account with the same name does not inherit the old tokens.
    store.add_account("alice", PASSWORD)
    assert store.verify_token("alice", token) is None
    with pytest.raises(UserError, match="no account"):
        store.remove_account("nobody")


def test_cached_verification_is_much_faster_than_scrypt(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as real:  # default scrypt cost
        real.add_account("camera-owner", PASSWORD)
        started = time.perf_counter()
        assert real.verify_password("camera-owner", PASSWORD)
        first = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(100):
            assert real.verify_password("camera-owner", PASSWORD)
        repeated = (time.perf_counter() - started) / 100
    assert repeated < first / 5


def test_wrong_password_is_never_served_from_the_cache() -> None:
    cache = VerificationCache(capacity=2, ttl=60)
    cache.remember("alice", "right password", stored_hash="h")
    assert cache.hit("ALICE", "right password", "h")
    assert not cache.hit("alice", "wrong password", "h")
    cache.remember("bob", "one", stored_hash="h")
    cache.remember("carol", "two", stored_hash="h")
    assert len(cache) == 2 and not cache.hit("alice", "right password", "h")  # evicted, bounded
    cache.forget("BOB")
    assert not cache.hit("bob", "one", "h") and cache.hit("carol", "two", "h")
    expired = VerificationCache(ttl=0)
    expired.remember("alice", "pw", stored_hash="h")
    assert not expired.hit("alice", "pw", "h")


def test_a_token_alone_names_its_account(store: Store) -> None:
    alice = store.add_account("alice", PASSWORD)
    store.add_account("bob", PASSWORD)
    full = store.issue_token("alice")
    bare = full.partition(".accessToken:")[2]
    assert store.account_for_token(full) == alice
    assert store.account_for_token(bare) == alice
    assert store.account_for_token("Belkin.accessToken:" + bare) == alice  # partner is a label
    for wrong in ("", bare + "x", bare[:-1], "myQ.accessToken:", PASSWORD):
        assert store.account_for_token(wrong) is None
    store.revoke_tokens("alice")
    assert store.account_for_token(full) is None


def test_account_aliases_are_unique_stable_and_name_their_cameras(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with Store(path, hasher=FAST_HASHER) as first:
        accounts = [first.add_account(f"user{index}", PASSWORD) for index in range(30)]
        camera = first.upsert_camera(mac=MAC, owner="user3")
    assert len({account.alias for account in accounts}) == 30
    assert camera.alias == f"{accounts[3].alias}:{MAC}"
    with Store(path, hasher=FAST_HASHER) as second:
        assert second.list_accounts() == accounts
        assert second.get_camera(camera.id) == camera
        assert second.verify_password("user3", PASSWORD).alias == accounts[3].alias


def test_tokens_in_full_and_bare_form(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    store.add_account("bob", PASSWORD)
    full = store.issue_token("alice")
    partner, marker, bare = full.partition(".accessToken:")
    assert partner == "myQ" and marker and len(bare) >= 40
    assert store.verify_token("alice", full).login == "alice"
    assert store.verify_token("ALICE", bare).login == "alice"
    assert store.verify_token("bob", full) is None
    assert store.verify_token("alice", bare + "x") is None
    other = store.issue_token("alice", partner="Belkin")
    assert other.startswith("Belkin.accessToken:")
    assert [token.partner for token in store.list_tokens("alice")] == ["myQ", "Belkin"]
    stored = sqlite3.connect(store.path).execute("SELECT token_hash FROM tokens").fetchall()
    assert all(bare not in row[0] for row in stored)
    assert store.revoke_tokens("alice") == 2
    assert store.verify_token("alice", full) is None


@pytest.mark.parametrize("partner", ["", "a b", "x" * 65, "my.Q"])
def test_bad_partner_names_are_refused(store: Store, partner: str) -> None:
    store.add_account("alice", PASSWORD)
    with pytest.raises(UserError, match="partner"):
        store.issue_token("alice", partner)
