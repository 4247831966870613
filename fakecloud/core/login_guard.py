"""Login limits: what a password check may cost, and who pays for it (docs/broker.md, "Login
limits"). Every number of that policy lives in `LoginLimits`; CXNet, REST and HTTP Basic all go
through the same `LoginGuard` and `HashPool` (both owned by the AsyncStore).

A password check costs one scrypt (tens of milliseconds of CPU and 16 MiB). It runs in a small
bounded pool, never on the store's thread; a client address and an account may each have only a
few checks at once, and after failures their next checks wait (an exponential backoff with a
cap, decaying with quiet time). Token checks and recently verified passwords never get here:
they cost microseconds and prove who is asking.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
# Asks, just before a queued check runs, whether its client still waits for the answer.
StillWaiting = Callable[[], Awaitable[bool]]


class LoginRefused(Exception):
    """A check refused without running it. Callers answer it exactly like a wrong password."""


class LoginBusy(LoginRefused):
    """The hash pool's queue is full."""


class LoginDropped(LoginRefused):
    """The client went away while its check waited."""


@dataclass(frozen=True, slots=True)
class LoginLimits:
    hash_workers: int = 2  # threads running scrypt (each check also holds 16 MiB while it runs)
    hash_queue: int = 64  # checks waiting for a thread; more are refused at once as busy
    per_address: int = 2  # password checks at once from one client address
    per_account: int = 4  # password checks at once for one account
    waiting_per_key: int = 8  # checks queued behind those; more are refused at once
    free_failures: float = 3.0  # failures (decayed) before any backoff: typos cost nothing
    backoff_first: float = 0.25  # seconds; doubles with each further failure ...
    backoff_cap: float = 4.0  # ... up to this, the longest anyone ever waits for a check
    backoff_half_life: float = 60.0  # a failure counts half after this many quiet seconds
    tracked_keys: int = 10_000  # failure records kept (least recently failed forgotten first)

    @classmethod
    def from_settings(cls, settings: Any) -> LoginLimits:
        return cls(
            hash_workers=settings.login_hash_workers,
            hash_queue=settings.login_hash_queue,
            per_address=settings.login_checks_per_address,
            per_account=settings.login_checks_per_account,
            backoff_cap=settings.login_backoff_max_seconds,
        )


class HashPool:
    """Runs blocking checks on its own few threads, at most `queue` waiting; FIFO.

    A job whose client disconnected (or whose awaiting task was cancelled) while it waited is
    dropped without running. A running job keeps its thread until it ends, so the pool never
    runs more than `workers` jobs even when their requesters give up."""

    def __init__(self, workers: int, queue: int) -> None:
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fakecloud-hash")
        self._slots = asyncio.Semaphore(workers)
        self._queue_limit = queue
        self._queued = 0
        self.counters = {"checks": 0, "busy": 0, "dropped": 0}

    @property
    def queued(self) -> int:
        return self._queued

    async def run(self, job: Callable[[], T], still_waiting: StillWaiting | None = None) -> T:
        if self._slots.locked() and self._queued >= self._queue_limit:
            self.counters["busy"] += 1
            raise LoginBusy("too many checks waiting")
        self._queued += 1
        try:
            await self._slots.acquire()
        finally:
            self._queued -= 1
        try:
            if still_waiting is not None and not await still_waiting():
                self.counters["dropped"] += 1
                raise LoginDropped("the client went away")
            running = asyncio.get_running_loop().run_in_executor(self._threads, job)
        except BaseException:
            self._slots.release()
            raise
        # The slot is freed when the thread is, not when the requester stops waiting.
        running.add_done_callback(lambda _: self._slots.release())
        self.counters["checks"] += 1
        return await asyncio.shield(running)

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)


@dataclass(slots=True)
class _Gate:
    """Checks running for one address or account, and those waiting for a turn (FIFO)."""

    running: int = 0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


@dataclass(slots=True)
class _Failures:
    score: float = 0.0
    when: float = field(default_factory=time.monotonic)


class LoginGuard:
    """Per-address and per-account concurrency and failure backoff for password checks.

    Security consideration: a refused or delayed client learns nothing new; callers give every
    refusal the answer a wrong password gets, and a delay looks like a slow check. The backoff is
    capped (`backoff_cap`) and decays, so an attacker can slow the owner's uncached password
    logins by at most that, never lock them out; tokens and cached passwords skip the guard."""

    def __init__(self, limits: LoginLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._gates: dict[tuple[str, str], _Gate] = {}
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        self.counters = {"refused": 0, "delayed": 0, "failures": 0}

    async def check(
        self, client: str | None, account: str, verify: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """`verify()` under the limits: its result, None when it fails (counted against the
        client and the account), LoginRefused when refused without running it."""
        keys = [("account", account.casefold())]
        if client:
            keys.insert(0, ("address", client))
        limits = self.limits
        capacities = {"address": limits.per_address, "account": limits.per_account}
        entered: list[tuple[str, str]] = []
        try:
            for key in keys:
                await self._enter(key, capacities[key[0]])
                entered.append(key)
            delay = max(self.delay(key) for key in keys)
            if delay > 0:
                self.counters["delayed"] += 1
                await asyncio.sleep(delay)
            result = await verify()
        finally:
            for key in entered:
                self._leave(key)
        if result is None:
            for key in keys:
                self._fail(key)
        return result

    def delay(self, key: tuple[str, str]) -> float:
        """Seconds a check for `key` (("address", ip) or ("account", login)) waits now."""
        excess = self._score(key) - self.limits.free_failures
        if excess <= 0:
            return 0.0
        return min(self.limits.backoff_cap, self.limits.backoff_first * math.pow(2.0, excess - 1))

    def status(self) -> dict[str, Any]:
        return {**self.counters, "tracked": len(self._failures), "busy_keys": len(self._gates)}

    async def _enter(self, key: tuple[str, str], capacity: int) -> None:
        gate = self._gates.setdefault(key, _Gate())
        if gate.running < capacity and not gate.waiters:
            gate.running += 1
            return
        if len(gate.waiters) >= self.limits.waiting_per_key:
            self.counters["refused"] += 1
            raise LoginRefused(f"too many checks at once for this {key[0]}")
        turn = asyncio.get_running_loop().create_future()
        gate.waiters.append(turn)
        try:
            async with asyncio.timeout(self.limits.backoff_cap):
                await turn  # _leave hands its slot over by resolving this
        except BaseException as error:
            if turn.done() and not turn.cancelled():
                self._leave(key)  # handed a slot at the very moment we gave up
            else:
                turn.cancel()
                if turn in gate.waiters:
                    gate.waiters.remove(turn)
                self._forget_if_idle(key, gate)
            if isinstance(error, TimeoutError):
                self.counters["refused"] += 1
                raise LoginRefused(f"waited too long for this {key[0]}") from None
            raise

    def _leave(self, key: tuple[str, str]) -> None:
        gate = self._gates[key]
        while gate.waiters:
            turn = gate.waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        gate.running -= 1
        self._forget_if_idle(key, gate)

    def _forget_if_idle(self, key: tuple[str, str], gate: _Gate) -> None:
        if gate.running == 0 and not gate.waiters:
            del self._gates[key]

    def _score(self, key: tuple[str, str]) -> float:
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        now = self._clock()
        failures.score *= 0.5 ** ((now - failures.when) / self.limits.backoff_half_life)
        failures.when = now
        return failures.score

    def _fail(self, key: tuple[str, str]) -> None:
        self.counters["failures"] += 1
        score = self._score(key)
        self._failures[key] = _Failures(score + 1.0, self._clock())
        self._failures.move_to_end(key)
        while len(self._failures) > self.limits.tracked_keys:
            self._failures.popitem(last=False)
