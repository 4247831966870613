"""Copying the write-ahead log into the database, on a thread of its own.

SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages, on the
store's thread, and it is the only step in WAL mode with synchronous=NORMAL that waits for the
disk (fsync). Measured in `bench/broker`: one 26-write batch took 400 ms that way, and every
login behind it on the store's thread waited as long. So the server's store turns the
automatic checkpoint off (`StoreCore.hand_over_checkpoints`) and this checkpointer runs a
PASSIVE checkpoint from its own connection once the log has grown past `WAL_LIMIT_BYTES`.
PASSIVE never waits for readers or writers; the store's thread commits on meanwhile. Durability
is unchanged: a commit is in the log before it returns, and the log is checkpointed later.

SQLite starts the log again from its beginning only once a checkpoint has copied all of it, and
while commits keep coming (a login storm) a PASSIVE checkpoint rarely gets there: the log stays
past the limit. So PASSIVE checkpoints run at most every `CHECKPOINT_INTERVAL` (measured: 2,000
new cameras queued 551 checkpoints, about a millisecond of CPU each, when every commit past the
limit queued one), and a log that reaches `WAL_CAP_FACTOR` times the limit is checkpointed in
full (TRUNCATE) by the committing connection itself, right after its commit: a sustained flood
of writes pauses for that copy instead of filling the disk. (From this thread, a TRUNCATE
checkpoint waits for a gap between commits, and a busy writer leaves too few: the log grew to
20 times the limit in tests.) The store's connection cuts the file back when the log starts
again (`journal_size_limit` 0), so its size is what the log holds.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from fakecloud.core.rates import LogThrottle
from fakecloud.store.worker import StoreWorker

log = logging.getLogger(__name__)

# About SQLite's own automatic point (1,000 pages of 4 KiB).
WAL_LIMIT_BYTES = 4 * 1024 * 1024
# A log this many times the limit (64 MiB) is copied in full, holding commits back meanwhile.
# Raised from 4 (16 MiB), which a storm of 2,000 new cameras reached one to four times (a
# 100-200 ms pause each), so that a storm ends before it and only a sustained flood pays for it.
WAL_CAP_FACTOR = 16
# Seconds between PASSIVE checkpoints while the log stays past the limit.
CHECKPOINT_INTERVAL = 0.05
FAILURE_LOG_INTERVAL = 60.0


class Checkpointer:
    def __init__(
        self,
        database: Path,
        wal_limit_bytes: int = WAL_LIMIT_BYTES,
        *,
        interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        self._database = database
        self._wal = database.with_name(database.name + "-wal")
        self._limit = wal_limit_bytes
        self._cap = WAL_CAP_FACTOR * wal_limit_bytes
        self._interval = interval
        self._worker = StoreWorker("fakecloud-checkpoint")
        self._connection: sqlite3.Connection | None = None
        self._queued = False
        self._last_queued = float("-inf")  # monotonic time
        self._failure_log = LogThrottle(FAILURE_LOG_INTERVAL)
        self.checkpoints = 0
        self.truncations = 0

    def after_commit(self, connection: sqlite3.Connection) -> None:
        """On the store's thread, after a commit on `connection`: checkpoint when the log is
        long (queued here, or at the cap at once on `connection`)."""
        try:
            size = self._wal.stat().st_size
        except OSError:
            return
        if size >= self._cap:
            self._run(connection, "TRUNCATE")
            return
        now = time.monotonic()
        if self._queued or size < self._limit or now - self._last_queued < self._interval:
            return
        self._queued, self._last_queued = True, now
        self._worker.submit(self._checkpoint)

    def close(self) -> None:
        """Finish a queued checkpoint and close its connection (the store's own close then
        checkpoints what is left, as SQLite does for the last connection)."""
        self._worker.submit(self._close_connection)
        self._worker.stop()

    def _checkpoint(self) -> None:
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(self._database, isolation_level=None)
            self._run(self._connection, "PASSIVE")
        finally:
            self._queued = False

    def _run(self, connection: sqlite3.Connection, mode: str) -> None:
        try:
            busy, _, _ = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as error:
            suppressed = self._failure_log.ready("checkpoint")
            if suppressed is not None:
                log.warning(
                    "checkpoint of %s failed (%s); retried after the next commit "
                    "(%d more failures not logged)",
                    self._database,
                    error,
                    suppressed,
                )
            return
        if busy:  # another checkpoint was running: the next commit asks again
            return
        self.checkpoints += 1
        self.truncations += mode == "TRUNCATE"

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
