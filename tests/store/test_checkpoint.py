"""The write-ahead log is checkpointed off the store's thread once it grows past its limit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fakecloud.store import AsyncStore, Store
from fakecloud.store.checkpoint import WAL_CAP_FACTOR, Checkpointer


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
    store.hand_over_checkpoints(lambda _connection: commits.append(None))
    assert store._query("PRAGMA wal_autocheckpoint")[0][0] == 0
    store.add_account("alice", "correct horse battery")
    assert len(commits) == 1  # each commit tells the checkpointer
    store.close()


def test_a_long_log_is_checkpointed_by_its_own_connection(tmp_path: Path) -> None:
    database = tmp_path / "fakecloud.db"
    store = Store(database)
    store.hand_over_checkpoints(lambda _connection: None)
    log_so_far = database.with_name(database.name + "-wal").stat().st_size  # the schema's
    checkpointer = Checkpointer(database, wal_limit_bytes=log_so_far + 64 * 1024)
    committing = sqlite3.connect(database)
    checkpointer.after_commit(committing)  # not long enough yet: nothing to do
    assert checkpointer.checkpoints == 0
    for index in range(10):  # past the limit, well short of the cap
        store.upsert_camera(mac=f"02:FC:00:00:00:{index:02X}")
    checkpointer.after_commit(committing)
    checkpointer.close()  # waits for the queued checkpoint
    committing.close()
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


def test_a_log_that_keeps_growing_is_checkpointed_now_and_then_and_capped(
    tmp_path: Path,
) -> None:
    """While commits keep coming, a PASSIVE checkpoint rarely copies the whole log, so the log
    stays past the limit: not every commit queues a checkpoint, and the cap bounds the file."""
    database = tmp_path / "fakecloud.db"
    store = Store(database)
    limit = 128 * 1024
    checkpointer = Checkpointer(database, wal_limit_bytes=limit)
    store.hand_over_checkpoints(checkpointer.after_commit)
    wal = database.with_name(database.name + "-wal")
    commits, grown, largest = 400, 0, 0
    for index in range(commits):
        before = wal.stat().st_size
        store.upsert_camera(mac=f"02:FC:00:02:{index // 256:02X}:{index % 256:02X}")
        grown += max(0, wal.stat().st_size - before)
        largest = max(largest, wal.stat().st_size)
    checkpointer.close()
    assert grown > 2 * WAL_CAP_FACTOR * limit  # the log was written several times its cap
    assert 1 <= checkpointer.checkpoints <= commits // 4
    assert checkpointer.truncations >= 1
    # A commit that reaches the cap truncates the log before the next one begins, unless a
    # PASSIVE checkpoint is running just then (the next commit tries again). On a loaded machine
    # that checkpoint can last a dozen commits (a full CI run saw 19.6 limits against a cap of
    # 16), so the bound is twice the cap: without one the log would reach `grown`, over that.
    assert largest < 2 * WAL_CAP_FACTOR * limit
    store.close()


def test_a_log_reused_from_the_start_is_cut_back(tmp_path: Path) -> None:
    database = tmp_path / "fakecloud.db"
    store = Store(database)
    store.hand_over_checkpoints(lambda _connection: None)
    for index in range(100):
        store.upsert_camera(mac=f"02:FC:00:03:00:{index:02X}")
    wal = database.with_name(database.name + "-wal")
    long_log = wal.stat().st_size
    assert wal_pages_checkpointed(database)[1] > 0  # everything copied: the log may restart
    store.upsert_camera(mac="02:FC:00:03:01:00")
    assert wal.stat().st_size < long_log // 4
    store.close()
