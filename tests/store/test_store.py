"""Store as one class: what its parts wrote survives reopening the SQLite file (WAL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fakecloud.store import Store
from tests.store.conftest import FAST_HASHER, MAC, PASSWORD


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
