"""Write calls that answer their callers, run together: one transaction and one commit for
all the calls that came while the store's thread was busy (group commit).

A login storm of new cameras made one transaction per camera, each writing about 28 KiB of
log (the camera's row and its indexes) and most of the store thread's time going to commits.
Here the first call queues one job; calls that come before that job runs join it. The job runs
them in `Store.run_grouped` and answers each caller once the commit is done, so a caller never
sees a write that could still be lost. Nobody waits for a group to fill: a group is whatever
queued meanwhile, one call when the store is idle.

A grouped call may run before store calls queued after its group's first call, so only calls
that no caller orders against other calls in flight are grouped (a camera's creation at its
login; see AsyncStore).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from fakecloud.store.store import Store
from fakecloud.store.worker import StoreWorker, answer_soon

T = TypeVar("T")


class GroupedCalls:
    def __init__(self, store: Store, worker: StoreWorker, counters: dict[str, float]) -> None:
        """`counters`: where to count groups (the store's write counters, on status pages)."""
        self._store = store
        self._worker = worker
        # Calls waiting for their group's job; the event loop adds, the store's thread takes.
        self._waiting: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._lock = threading.Lock()
        counters.update(call_groups=0, grouped_calls=0, largest_call_group=0)
        self.counters = counters

    async def call(self, job: Callable[[], T]) -> T:
        """Run `job` in the next group; its result or exception, once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.append((job, future))
            first = len(self._waiting) == 1
        if first:
            self._worker.submit(self._run_group)
        return await future

    def _run_group(self) -> None:
        """On the store's thread: run what is waiting, commit, answer each caller."""
        with self._lock:
            group, self._waiting = self._waiting, []
        try:
            outcomes = self._store.run_grouped([job for job, _ in group])
        except Exception as error:  # the commit failed: every call's writes are gone
            outcomes = [(None, error)] * len(group)
        counters = self.counters
        counters["call_groups"] += 1
        counters["grouped_calls"] += len(group)
        counters["largest_call_group"] = max(counters["largest_call_group"], len(group))
        answer_soon(
            [
                (future, result, error)
                for (_, future), (result, error) in zip(group, outcomes, strict=True)
            ]
        )
