"""Copying the write-ahead log into the database, on a thread of its own.

SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages, on the
store's thread, and it is the only step in WAL mode with synchronous=NORMAL that waits for the
disk (fsync). Measured in `bench/broker`: one 26-write batch took 400 ms that way, and every
login behind it on the store's thread waited as long. So the server's store turns the
automatic checkpoint off (`StoreCore.hand_over_checkpoints`) and this checkpointer runs a
PASSIVE checkpoint from its own connection once the log has grown past `WAL_LIMIT_BYTES`.
PASSIVE never waits for readers or writers; the store's thread commits on meanwhile. Durability
is unchanged: a commit is in the log before it returns, and the log is checkpointed later.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from fakecloud.core.rates import LogThrottle
from fakecloud.store.worker import StoreWorker

log = logging.getLogger(__name__)

# About SQLite's own automatic point (1,000 pages of 4 KiB).
WAL_LIMIT_BYTES = 4 * 1024 * 1024
FAILURE_LOG_INTERVAL = 60.0


class Checkpointer:
    def __init__(self, database: Path, wal_limit_bytes: int = WAL_LIMIT_BYTES) -> None:
        self._database = database
        self._wal = database.with_name(database.name + "-wal")
        self._limit = wal_limit_bytes
        self._worker = StoreWorker("fakecloud-checkpoint")
        self._connection: sqlite3.Connection | None = None
        self._queued = False
        self._failure_log = LogThrottle(FAILURE_LOG_INTERVAL)
        self.checkpoints = 0

    def after_commit(self) -> None:
        """On the store's thread, after a commit: queue a checkpoint when the log is long."""
        if self._queued:
            return
        try:
            size = self._wal.stat().st_size
        except OSError:
            return
        if size >= self._limit:
            self._queued = True
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
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
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
        finally:
            self._queued = False

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
