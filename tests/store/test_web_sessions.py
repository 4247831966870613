"""Web sign-in sessions on a real database: kept by hash, expiring, capped, surviving a reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import Store
from fakecloud.store.web_sessions import MAX_SESSIONS_PER_ACCOUNT
from tests.store.conftest import FAST_HASHER, PASSWORD

DAY = 86400.0


def test_a_session_signs_in_its_account_until_it_ends(store: Store) -> None:
    account = store.add_account("alice", PASSWORD)
    token = store.start_web_session("ALICE", DAY)
    assert store.web_session_account(token) == account
    assert store.web_session_account(token + "x") is None
    assert store.end_web_session(token) is True
    assert store.web_session_account(token) is None
    assert store.end_web_session(token) is False


def test_only_the_hash_is_stored_and_a_reopened_store_keeps_sessions(tmp_path: Path) -> None:
    path = tmp_path / "fakecloud.sqlite3"
    with Store(path, hasher=FAST_HASHER) as first:
        first.add_account("alice", PASSWORD)
        token = first.start_web_session("alice", DAY)
    with sqlite3.connect(path) as raw:
        stored = [row[0] for row in raw.execute("SELECT token_hash FROM web_sessions")]
    assert len(stored) == 1 and token not in stored[0]
    with Store(path, hasher=FAST_HASHER) as again:
        account = again.web_session_account(token)
        assert account is not None and account.login == "alice"


def test_an_expired_session_signs_in_nobody(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    token = store.start_web_session("alice", -1.0)
    assert store.web_session_account(token) is None


def test_each_account_keeps_only_its_newest_sessions(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    store.add_account("bob", PASSWORD)
    bobs = store.start_web_session("bob", DAY)
    tokens = [store.start_web_session("alice", DAY) for _ in range(MAX_SESSIONS_PER_ACCOUNT + 5)]
    assert store.web_session_account(tokens[0]) is None  # pushed out by the newer ones
    assert store.web_session_account(tokens[-1]) is not None
    assert store.web_session_account(bobs) is not None  # another account's are untouched


def test_ending_every_session_but_one(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    kept, *others = [store.start_web_session("alice", DAY) for _ in range(3)]
    assert store.end_web_sessions("alice", keep=kept) == 2
    assert store.web_session_account(kept) is not None
    assert all(store.web_session_account(token) is None for token in others)
    assert store.end_web_sessions("alice") == 1


def test_removing_the_account_ends_its_sessions(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    token = store.start_web_session("alice", DAY)
    store.remove_account("alice")
    assert store.web_session_account(token) is None
    with pytest.raises(UserError, match="no account"):
        store.start_web_session("alice", DAY)


def test_the_first_account_only_while_there_is_none(store: Store) -> None:
    store.add_account("alice", PASSWORD, first=True)
    with pytest.raises(UserError, match="exists already"):
        store.add_account("mallory", PASSWORD, first=True)
    assert [account.login for account in store.list_accounts()] == ["alice"]
    store.add_account("bob", PASSWORD)  # an ordinary one still may be added


def test_revoking_one_token(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    store.add_account("bob", PASSWORD)
    kept = store.issue_token("alice", "frigate")
    dropped = store.issue_token("alice", "home-assistant")
    bobs = store.list_tokens("bob")
    ids = {token.partner: token.id for token in store.list_tokens("alice")}
    assert store.revoke_token("bob", ids["frigate"]) is False and bobs == []  # not bob's
    assert store.revoke_token("alice", ids["home-assistant"]) is True
    assert store.account_for_token(dropped) is None
    assert store.account_for_token(kept) is not None
