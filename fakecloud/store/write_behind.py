"""Written-behind changes (presence, last_seen, the session log): gathered, then committed in
one transaction on the store's thread (docs/store.md, Grouped writes).

The event loop adds to the current WriteBatch and returns at once. The batch is committed by
the next store call on its way (`take_along`: the same trip to the thread, no wake-up of its
own), or by a job of its own after GATHER_SECONDS when no call comes. A failed batch is logged
and dropped, never raised: it must not take the server down, and what was committed before
stays.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from fakecloud.core.errors import UserError
from fakecloud.core.rates import LogThrottle
from fakecloud.store.batch import PresenceWrite, SessionRow, WriteBatch
from fakecloud.store.store import Store
from fakecloud.store.worker import StoreWorker

T = TypeVar("T")
log = logging.getLogger(__name__)

# A failing batch (disk full) is logged at most this often (seconds).
FAILED_BATCH_LOG_INTERVAL = 60.0
# Written-behind changes wait at most this long (seconds) for the next store call to commit them
# on its way (one wake-up of the store's thread for both); with no call coming, a commit job of
# their own is queued then. This bounds what a crash can lose.
GATHER_SECONDS = 0.02


class WriteBehind:
    def __init__(self, store: Store, worker: StoreWorker) -> None:
        self._store = store
        self._worker = worker
        # The batch being gathered, and whether its commit is on its way (a timer or a job);
        # the event loop adds, the store's thread takes, both under this lock.
        self._batch = WriteBatch()
        self._commit_queued = False
        self._commit_timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()
        self._failed_since_flush = 0
        self._failure_log = LogThrottle(FAILED_BATCH_LOG_INTERVAL)
        self.closed = False
        self.counters: dict[str, float] = {
            "queued": 0,
            "coalesced": 0,
            "batches_committed": 0,
            "batches_failed": 0,
            "writes_lost": 0,
            "largest_batch": 0,
            "slowest_batch_ms": 0.0,
            "keepalives_skipped": 0,
        }

    def add(self, presence: PresenceWrite | None, row: SessionRow | None) -> None:
        """On the event loop: queue a change; its commit follows within GATHER_SECONDS."""
        if self.closed:
            raise UserError("the store is closed")
        with self._lock:
            if presence is not None:
                self._batch.add_presence(presence)
            if row is not None:
                self._batch.add_session(row)
            self.counters["queued"] += 1
            if self._commit_queued:
                return
            self._commit_queued = True
        self._commit_timer = asyncio.get_running_loop().call_later(
            GATHER_SECONDS, self._commit_gathered
        )

    def take_along(self, job: Callable[[], T]) -> Callable[[], T]:
        """On the event loop: `job`, made to commit the gathered writes first when they are
        waiting for their timer (so the job also sees them, and they need no job of their own)."""
        timer, self._commit_timer = self._commit_timer, None
        if timer is None:
            return job
        timer.cancel()
        return partial(_after, self.commit, job)

    def commit(self) -> None:
        """On the store's thread: commit what was gathered, in one transaction."""
        with self._lock:
            batch, self._batch = self._batch, WriteBatch()
            self._commit_queued = False
        if not len(batch):
            return
        started = time.perf_counter()
        try:
            self._store.write_batch(batch)
        except Exception as error:
            self._failed(batch, error)
            return
        counters = self.counters
        counters["batches_committed"] += 1
        counters["coalesced"] += batch.coalesced
        counters["largest_batch"] = max(counters["largest_batch"], len(batch))
        took = (time.perf_counter() - started) * 1000
        counters["slowest_batch_ms"] = max(counters["slowest_batch_ms"], took)

    def commit_and_report(self) -> int:
        """On the store's thread: commit what is queued; the batches failed since the last
        report (then none again)."""
        self.commit()
        failed, self._failed_since_flush = self._failed_since_flush, 0
        return failed

    def _commit_gathered(self) -> None:
        """No store call came to take the gathered writes along: queue their commit."""
        self._commit_timer = None
        self._worker.submit(self.commit)

    def _failed(self, batch: WriteBatch, error: Exception) -> None:
        self.counters["batches_failed"] += 1
        self.counters["writes_lost"] += len(batch)
        self._failed_since_flush += 1
        suppressed = self._failure_log.ready("batch")
        if suppressed is not None:
            log.error(
                "the store could not write %d presence and session-log changes (%s); "
                "earlier data is kept (%d more failures not logged)",
                len(batch),
                error,
                suppressed,
            )


def _after(first: Callable[[], object], then: Callable[[], T]) -> T:
    first()
    return then()
