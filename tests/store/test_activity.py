"""Presence, the session log and events on a real database: newest first, bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakecloud.core.errors import UserError
from fakecloud.store import (
    Store,
)
from tests.store.conftest import FAST_HASHER, MAC


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
