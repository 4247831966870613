"""The write-ahead log is checkpointed off the store's thread once it grows past its limit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fakecloud.store import AsyncStore, Store
from fakecloud.store.checkpoint import Checkpointer


def wal_pages_checkpointed(database: Path) -> tuple[int, int]:
    """(frames in the log, frames checkpointed) as a fresh PASSIVE checkpoint reports them."""
    with sqlite3.connect(database) as connection:
        _, log_frames, checkpointed = connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
    return log_frames, checkpointed


def test_the_servers_store_no_longer_checkpoints_in_its_commits(tmp_path: Path) -> None:
    store = Store(tmp_path / "fakecloud.db")
    commits: list[None] = []
    store.hand_over_checkpoints(lambda: commits.append(None))
    assert store._query("PRAGMA wal_autocheckpoint")[0][0] == 0
    store.add_account("alice", "correct horse battery")
    assert len(commits) == 1  # each commit tells the checkpointer
    store.close()


def test_a_long_log_is_checkpointed_by_its_own_connection(tmp_path: Path) -> None:
    database = tmp_path / "fakecloud.db"
    store = Store(database)
    store.hand_over_checkpoints(lambda: None)
    log_so_far = database.with_name(database.name + "-wal").stat().st_size  # the schema's
    checkpointer = Checkpointer(database, wal_limit_bytes=log_so_far + 64 * 1024)
    checkpointer.after_commit()  # not long enough yet: nothing to do
    assert checkpointer.checkpoints == 0
    for index in range(200):
        store.upsert_camera(mac=f"02:FC:00:00:{index // 256:02X}:{index % 256:02X}")
    checkpointer.after_commit()
    checkpointer.close()  # waits for the queued checkpoint
    assert checkpointer.checkpoints == 1
    log_frames, checkpointed = wal_pages_checkpointed(database)
    assert log_frames > 0 and checkpointed == log_frames
    store.close()


async def test_the_async_store_checkpoints_after_its_batches_and_closes_cleanly(
    tmp_path: Path,
) -> None:
    database = tmp_path / "fakecloud.db"
    store = AsyncStore(Store(database))
    store.checkpointer._limit = 16 * 1024
    cameras = [await store.upsert_camera(mac=f"02:FC:00:01:00:{index:02X}") for index in range(100)]
    for camera in cameras:
        store.camera_online(camera, ip="127.0.0.1", properties={"model": "NetCam HD+"})
    await store.close()
    assert store.checkpointer.checkpoints >= 1
    reopened = Store(database)
    assert len(reopened.list_cameras()) == 100
    assert reopened.integrity_check() == "ok"
    reopened.close()
