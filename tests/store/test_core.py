"""Opening a database: migrations step by step, and clear errors for what cannot be opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    PasswordHasher,
    Store,
)
from fakecloud.store.models import ACCOUNT_ALIAS_FORM
from fakecloud.store.schema import migrate, schema_version
from tests.store.conftest import FAST_HASHER, MAC, PASSWORD


def test_an_old_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    assert migrate(old, MIGRATIONS[:1]) == 1
    old.execute(
        "INSERT INTO accounts (login, login_key, password_hash, created)"
        " VALUES ('alice', 'alice', ?, '2024-01-01T00:00:00+00:00')",
        (FAST_HASHER.hash(PASSWORD),),
    )
    old.close()
    with Store(path, hasher=FAST_HASHER) as upgraded:
        assert upgraded.verify_password("alice", PASSWORD)
    reopened = sqlite3.connect(path)
    assert schema_version(reopened) == SCHEMA_VERSION == len(MIGRATIONS)
    indexes = {row[0] for row in reopened.execute("SELECT name FROM sqlite_master")}
    assert {"events_camera", "sessions_camera", "cameras_last_ip", "accounts_alias"} <= indexes


def test_the_alias_step_fills_accounts_and_cameras_of_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    assert migrate(old, MIGRATIONS[:2]) == 2
    for index, login in enumerate(("alice", "bob")):
        old.execute(
            "INSERT INTO accounts (id, login, login_key, password_hash, created)"
            " VALUES (?, ?, ?, 'x', '2024-01-01T00:00:00+00:00')",
            (index + 1, login, login),
        )
    # An owned camera that had reported an alias, an unowned one with the old made-up default.
    for camera_id, alias, mac, owner in (
        (7, "oc9:mine", MAC, 1),
        (8, "oc9:001122334455", "00:11:22:33:44:55", None),
    ):
        old.execute(
            "INSERT INTO cameras (id, alias, mac, p2p_key, owner_id, created)"
            " VALUES (?, ?, ?, 'k', ?, '2024-01-01T00:00:00+00:00')",
            (camera_id, alias, mac, owner),
        )
    old.close()
    with Store(path, hasher=FAST_HASHER) as upgraded:
        alice, bob = upgraded.list_accounts()
        owned, unowned = upgraded.get_camera(7), upgraded.get_camera(8)
    assert alice.alias != bob.alias and all(
        ACCOUNT_ALIAS_FORM.fullmatch(account.alias) for account in (alice, bob)
    )
    assert (owned.alias, owned.reported_alias) == (f"{alice.alias}:{MAC}", "oc9:mine")
    assert (unowned.alias, unowned.reported_alias) == ("00:11:22:33:44:55", None)


def test_a_failed_migration_step_leaves_the_previous_version(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    broken = (*MIGRATIONS[:1], "CREATE TABLE extra (x INTEGER); THIS IS NOT SQL;")
    with pytest.raises(sqlite3.OperationalError):
        migrate(connection, broken)
    assert schema_version(connection) == 1
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "extra" not in tables


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    future = sqlite3.connect(path)
    future.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    future.close()
    with pytest.raises(UserError, match="newer"):
        Store(path, hasher=FAST_HASHER)


def test_a_file_that_is_not_a_database_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="cannot open"):
        Store(path, hasher=PasswordHasher(n=16))


def test_a_path_that_cannot_be_opened_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "a folder").mkdir()
    with pytest.raises(UserError, match="cannot open"):
        Store(tmp_path / "a folder", hasher=FAST_HASHER)
