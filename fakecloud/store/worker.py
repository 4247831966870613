"""The store's one thread: runs jobs in the order they came, each result back at once.

`run_in_executor` on a one-thread ThreadPoolExecutor costs, per call, a Python-level semaphore
and condition in `submit` and in the worker, and a second, chained future. In a login storm that
was a sixth of the time the event loop held the GIL (measured with py-spy). Here a job is one
`SimpleQueue.put` (C code, no condition) and its result one `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

# A job and the future waiting for its result (None: nobody waits).
_Job = tuple[Callable[[], Any], "asyncio.Future[Any] | None"]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the event loop: give the waiting future its result (unless its caller has gone)."""
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _settle_all(answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in answers:
        _settle(future, result, error)


def answer_soon(answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    """From the worker's thread: settle futures of one event loop, in one wake-up of it."""
    if not answers:
        return
    try:
        answers[0][0].get_loop().call_soon_threadsafe(_settle_all, answers)
    except RuntimeError:  # that loop has closed: nobody is waiting any more
        pass


class StoreWorker:
    """Runs callables on one thread of its own, in submission order."""

    def __init__(self, name: str = "fakecloud-store") -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # Started with the first job, as an executor's threads are: a store made and never used
        # (the CLI's checks, tests) leaves no thread behind.
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._stopped = False

    async def call(self, job: Callable[[], T]) -> T:
        """Run `job` on the thread; its result or exception."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put((job, future))
        return await future

    def submit(self, job: Callable[[], object]) -> None:
        """Run `job` on the thread, nobody waiting for it (it must not raise)."""
        self._put((job, None))

    def stop(self) -> None:
        """Finish the queued jobs, then end the thread (waits for it)."""
        if not self._stopped:
            self._stopped = True
            if self._thread.is_alive():
                self._jobs.put(None)
                self._thread.join()

    def _put(self, job: _Job) -> None:
        if self._stopped:
            raise RuntimeError("the store's thread has stopped")
        if not self._thread.is_alive():
            self._thread.start()
        self._jobs.put(job)

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            try:
                result, error = job(), None
            except BaseException as exception:  # the caller's to handle, as with any await
                result, error = None, exception
            if future is None:
                if error is not None:
                    log.error("store job failed with nobody waiting", exc_info=error)
                continue
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                pass
