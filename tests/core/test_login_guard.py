"""The login limits: bounded hash pool, dropped jobs, per-key concurrency and capped backoff."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fakecloud.core.login_guard import (
    HashPool,
    LoginBusy,
    LoginDropped,
    LoginGuard,
    LoginLimits,
    LoginRefused,
)

TIMEOUT = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_backoff_starts_after_free_failures_is_capped_and_decays() -> None:
    clock = Clock()
    limits = LoginLimits(free_failures=2, backoff_first=0.5, backoff_cap=4.0, backoff_half_life=10)
    guard = LoginGuard(limits, clock)
    key = ("address", "192.0.2.1")
    delays = []
    for _ in range(10):
        guard._fail(key)
        delays.append(guard.delay(key))
    assert delays[:2] == [0.0, 0.0]  # a typo or two cost nothing
    assert delays[2:4] == [0.5, 1.0]  # then each failure doubles the wait
    assert delays[-1] == 4.0 and max(delays) == 4.0  # never more than the cap
    clock.now += 200  # twenty half-lives of quiet
    assert guard.delay(key) == 0.0
    assert guard.delay(("address", "192.0.2.2")) == 0.0  # others were never affected


async def test_failures_count_against_address_and_account_but_not_others() -> None:
    guard = LoginGuard(LoginLimits(free_failures=0, backoff_first=0.001, backoff_cap=0.01))

    async def wrong() -> None:
        return None

    assert await guard.check("192.0.2.1", "Alice", wrong) is None
    assert guard.delay(("address", "192.0.2.1")) > 0
    assert guard.delay(("account", "alice")) > 0  # accounts are keyed case-insensitively
    assert guard.delay(("address", "192.0.2.9")) == 0


async def test_concurrent_checks_per_address_are_limited_then_refused() -> None:
    guard = LoginGuard(LoginLimits(per_address=1, per_account=10, waiting_per_key=1))
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await release.wait()
        return "account"

    async with asyncio.timeout(TIMEOUT):
        first = asyncio.create_task(guard.check("192.0.2.1", "a", slow))
        await started.wait()
        second = asyncio.create_task(guard.check("192.0.2.1", "b", slow))
        await asyncio.sleep(0)  # let it queue behind the first
        with pytest.raises(LoginRefused):
            await guard.check("192.0.2.1", "c", slow)  # beyond the queue: refused at once
        assert await _instant(guard) == "other"  # another address is not held up
        release.set()
        assert await first == "account" and await second == "account"
    assert guard.status()["busy_keys"] == 0  # nothing left behind


async def _instant(guard: LoginGuard) -> str | None:
    async def right() -> str:
        return "other"

    return await guard.check("192.0.2.2", "d", right)


async def _let_tasks_queue() -> None:
    """Each new task takes one loop step to reach the pool's queue."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_hash_pool_is_bounded_and_refuses_when_full() -> None:
    pool = HashPool(workers=1, queue=1)
    gate = threading.Event()
    try:
        async with asyncio.timeout(TIMEOUT):
            running = asyncio.create_task(pool.run(lambda: gate.wait(TIMEOUT)))
            queued = asyncio.create_task(pool.run(lambda: "second"))
            await _let_tasks_queue()
            assert pool.queued == 1
            with pytest.raises(LoginBusy):
                await pool.run(lambda: "third")
            gate.set()
            assert await running is True
            assert await queued == "second"
    finally:
        gate.set()
        pool.close()


async def test_jobs_of_clients_that_left_are_dropped_without_running() -> None:
    pool = HashPool(workers=1, queue=4)
    gate = threading.Event()
    ran: list[str] = []

    async def gone() -> bool:
        return False

    try:
        async with asyncio.timeout(TIMEOUT):
            running = asyncio.create_task(pool.run(lambda: gate.wait(TIMEOUT)))
            left = asyncio.create_task(pool.run(lambda: ran.append("left"), gone))
            cancelled = asyncio.create_task(pool.run(lambda: ran.append("cancelled")))
            await _let_tasks_queue()
            assert pool.queued == 2
            cancelled.cancel()
            gate.set()
            await running
            with pytest.raises(LoginDropped):
                await left
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            assert await pool.run(lambda: "after") == "after"
    finally:
        gate.set()
        pool.close()
    assert ran == []
    assert pool.counters["dropped"] == 1
