"""Store: accounts, tokens, cameras, session log and events on a real SQLite file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    PasswordHasher,
    Store,
    VerificationCache,
)
from fakecloud.store.models import ACCOUNT_ALIAS_FORM
from fakecloud.store.schema import migrate, schema_version
from fakecloud.store.store import CAMERA_ID_LIMIT, P2P_KEY_LENGTH, identity_proves
from tests.store.conftest import FAST_HASHER, PASSWORD

MAC = "00:11:22:AA:BB:CC"


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


def test_upsert_creates_once_and_finds_by_mac_or_alias(store: Store) -> None:
    alice = store.add_account("alice", PASSWORD)
    created = store.upsert_camera(mac="00-11-22-aa-bb-cc")
    assert created.mac == MAC and created.alias == MAC and created.reported_alias is None
    assert 0 < created.id < CAMERA_ID_LIMIT
    assert len(created.p2p_key) == P2P_KEY_LENGTH and created.p2p_key.isalnum()
    assert created.owner is None and not created.online
    again = store.upsert_camera(
        mac="001122AABBCC", reported_alias="oc9:custom", owner="ALICE", name="Hall"
    )
    assert again.id == created.id and again.p2p_key == created.p2p_key
    assert (again.alias, again.owner, again.name) == (f"{alice.alias}:{MAC}", "alice", "Hall")
    assert again.reported_alias == "oc9:custom"
    assert store.find_camera(alias="oc9:custom").id == created.id
    assert store.find_camera(alias=f"{alice.alias}:{MAC}").id == created.id
    assert store.find_camera(mac="00:11:22:aa:bb:cc").id == created.id
    assert store.find_camera() is None and store.find_camera(mac="00:00:00:00:00:01") is None
    assert [camera.id for camera in store.list_cameras()] == [created.id]
    with pytest.raises(UserError, match="no account"):
        store.upsert_camera(mac=MAC, owner="nobody")
    with pytest.raises(UserError, match="MAC"):
        store.upsert_camera(mac="not a mac")


def test_cameras_get_distinct_ids_and_keys(store: Store) -> None:
    cameras = [store.upsert_camera(mac=f"00:11:22:33:44:{index:02X}") for index in range(50)]
    assert len({camera.id for camera in cameras}) == 50
    assert len({camera.p2p_key for camera in cameras}) == 50


def test_presence_and_find_by_address(store: Store) -> None:
    camera = store.upsert_camera(mac=MAC)
    store.set_camera_presence(
        camera.id, True, ip="127.0.0.5", firmware="2.4.8", properties={"model": "NetCam HD+"}
    )
    online = store.get_camera(camera.id)
    assert online.online and online.last_ip == "127.0.0.5" and online.firmware == "2.4.8"
    assert online.properties == {"model": "NetCam HD+"}
    assert online.first_seen is not None and online.first_seen == online.last_seen
    store.set_camera_presence(camera.id, False)
    offline = store.get_camera(camera.id)
    assert not offline.online and offline.last_ip == "127.0.0.5" and offline.firmware == "2.4.8"
    assert offline.first_seen == online.first_seen
    assert store.find_camera(ip="127.0.0.5").id == camera.id
    with pytest.raises(UserError, match="no camera"):
        store.set_camera_presence(12345, True)


def test_mark_all_offline(store: Store) -> None:
    cameras = [store.upsert_camera(mac=f"00:11:22:33:44:{index:02X}") for index in range(3)]
    for camera in cameras:
        store.set_camera_presence(camera.id, True)
    assert store.mark_all_offline() == 3
    assert not any(camera.online for camera in store.list_cameras())


def test_update_camera_name_and_settings(store: Store) -> None:
    camera = store.upsert_camera(mac=MAC)
    updated = store.update_camera(camera.id, name="Porch", settings={"FPS": 5, "cam": {"res": 2}})
    assert updated.name == "Porch" and updated.settings == {"FPS": 5, "cam": {"res": 2}}
    assert store.update_camera(camera.id, settings={"FPS": 10}).name == "Porch"
    assert store.update_camera(camera.id, name="").name is None
    with pytest.raises(UserError, match="JSON"):
        store.update_camera(camera.id, settings={"bad": {1, 2}})
    with pytest.raises(UserError, match="no camera"):
        store.update_camera(99, name="x")


def test_owner_filter(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    store.add_account("bob", PASSWORD)
    mine = store.upsert_camera(mac=MAC, owner="alice")
    store.upsert_camera(mac="00:11:22:33:44:55", owner="bob")
    assert [camera.id for camera in store.list_cameras(owner="ALICE")] == [mine.id]
    assert len(store.list_cameras()) == 2


def test_forget_camera_drops_its_events_but_keeps_the_session_log(store: Store) -> None:
    camera = store.upsert_camera(mac=MAC)
    store.add_event(camera.id, "motion-event", {"args": ["1"]})
    store.log_session(camera.id, None, "camera", "127.0.0.1:5", "login")
    store.forget_camera(camera.id)
    assert store.get_camera(camera.id) is None
    assert store.list_events() == []
    [entry] = store.list_sessions()
    assert entry.camera_id is None and entry.event == "login"
    with pytest.raises(UserError, match="no camera"):
        store.forget_camera(camera.id)


def test_events_and_sessions_newest_first(store: Store) -> None:
    camera = store.upsert_camera(mac=MAC)
    for index in range(5):
        store.add_event(camera.id, "motion-event", {"n": index})
    store.add_event(None, "server", {"note": "started"})
    assert [event.data.get("n") for event in store.list_events(camera.id, limit=3)] == [4, 3, 2]
    assert store.list_events(limit=1)[0].kind == "server"
    store.log_session(None, "alice", "app", "127.0.0.1:9", "login")
    store.log_session(424242, "alice", "app", "127.0.0.1:9", "logout")  # unknown camera: kept
    assert [entry.event for entry in store.list_sessions()] == ["logout", "login"]
    with pytest.raises(UserError, match="no camera"):
        store.add_event(424242, "motion-event", {})


def test_logs_are_bounded(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER, max_log_rows=100) as small:
        for index in range(600):
            small.log_session(None, None, "app", "127.0.0.1:1", f"event {index}")
        assert len(small.list_sessions(limit=10_000)) <= 100 + 256


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with Store(path, hasher=FAST_HASHER) as first:
        first.add_account("alice", PASSWORD)
        camera = first.upsert_camera(mac=MAC, owner="alice")
    with Store(path, hasher=FAST_HASHER) as second:
        assert second.verify_password("alice", PASSWORD)
        assert second.get_camera(camera.id) == camera
        assert second.integrity_check() == "ok"
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


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


def test_pending_cameras_are_capped_and_keep_only_a_hash_of_their_secret(tmp_path: Path) -> None:
    with Store(tmp_path / "capped.sqlite3", hasher=FAST_HASHER, max_pending_cameras=3) as store:
        store.add_account("alice", PASSWORD)
        first = store.add_pending_camera(mac=MAC, identity_secret="its secret")
        assert first.pending and first.proof == "identity secret"
        assert identity_proves(first, "its secret") and not identity_proves(first, "a guess")
        assert not identity_proves(first, None)
        store.set_camera_presence(first.id, True, properties={"big": "x" * 10_000, "a": "b"})
        assert store.get_camera(first.id).properties == {"_truncated": True}
        for index in range(10):
            store.add_pending_camera(mac=f"02:00:00:00:00:{index:02X}")
        pending = [camera for camera in store.list_cameras() if camera.pending]
        assert len(pending) == 3 and first.id in {c.id for c in pending}, "online ones stay"
        assert "its secret" not in repr(store.get_camera(first.id))
        approved = store.approve_camera(first.id, "alice")
        assert approved.owner == "alice" and approved.proof == "identity secret"
        store.set_camera_presence(first.id, True, properties={"big": "x" * 10_000})
        assert len(store.get_camera(first.id).properties["big"]) == 10_000, "owned: kept whole"
        unproven = store.approve_camera(pending[-1].id, "alice")
        assert unproven.proof == "none"


def test_a_pairing_window_names_its_account_until_closed(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    assert store.pairing_account() is None
    store.open_pairing_window("alice", 10)
    assert store.pairing_account() == "alice"
    assert store.close_pairing_window("alice")
    assert store.pairing_account() is None
    with pytest.raises(UserError, match="minutes"):
        store.open_pairing_window("alice", 0)
