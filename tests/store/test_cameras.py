"""Cameras on a real database: created, found, renamed, forgotten, pending and paired."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import (
    Store,
)
from fakecloud.store.cameras import CAMERA_ID_LIMIT, P2P_KEY_LENGTH, identity_proves
from tests.store.conftest import FAST_HASHER, MAC, PASSWORD


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
