"""StoreWorker: one thread, jobs in order, results and exceptions back on the event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fakecloud.store.worker import StoreWorker


async def test_jobs_run_in_order_on_one_thread_that_is_not_the_loops() -> None:
    worker = StoreWorker()
    order: list[int] = []
    threads: set[int] = set()

    def job(number: int) -> int:
        order.append(number)
        threads.add(threading.get_ident())
        return number * 2

    results = await asyncio.gather(*(worker.call(lambda n=n: job(n)) for n in range(50)))
    worker.stop()
    assert results == [n * 2 for n in range(50)]
    assert order == list(range(50))
    assert len(threads) == 1 and threading.get_ident() not in threads


async def test_an_exception_reaches_its_caller_and_the_thread_goes_on() -> None:
    worker = StoreWorker()

    def fails() -> None:
        raise ValueError("no such camera")

    with pytest.raises(ValueError, match="no such camera"):
        await worker.call(fails)
    assert await worker.call(lambda: "still here") == "still here"
    worker.stop()


async def test_a_caller_that_gave_up_does_not_break_the_others() -> None:
    worker = StoreWorker()
    release = threading.Event()
    slow = asyncio.ensure_future(worker.call(lambda: release.wait(5)))
    await asyncio.sleep(0)
    slow.cancel()
    release.set()
    assert await worker.call(lambda: 7) == 7
    assert slow.cancelled()
    worker.stop()


async def test_stop_finishes_queued_jobs_and_refuses_new_ones() -> None:
    worker = StoreWorker()
    done: list[int] = []
    for number in range(5):
        worker.submit(lambda n=number: done.append(n))
    worker.stop()
    assert done == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError):
        worker.submit(lambda: None)


def test_a_worker_never_used_has_no_thread_to_stop() -> None:
    before = threading.active_count()
    worker = StoreWorker()
    assert threading.active_count() == before
    worker.stop()
