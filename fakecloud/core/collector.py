"""Python's cyclic garbage collector, kept from pausing a login storm.

With the defaults, a full (oldest-generation) collection walks every object the process holds,
the tens of thousands made by imports (FastAPI, PyAV, cryptography) included: 70-100 ms with the
event loop stopped, measured in `bench/broker` halfway through 2,000 logins, and at 500 logins a
second such a stop leaves a queue that takes several times as long to drain (p99 110-250 ms).
Once the server has started, its long-lived objects are moved out of the collector's sight
(`gc.freeze`), and collections run less often: the young generation after 10,000 net allocations
instead of 700, the oldest after 100 middle ones instead of 10. Cycles are still collected; a
storm of 2,000 logins then sees no full collection (measured: none, where there were two).

Collections that rare leave garbage in place long after a flood: 1,200 refused logins left
330 closed TLS connections' 128 KiB buffers (41 MiB) held a minute later (tracemalloc), in
reference cycles of asyncio's, uvicorn's and our own connection objects that no young
collection had reached. So the server's memory timer (core/memory.py) runs full collections
itself (`TimedCollections`): by CPython's own rule (once what it tracks has grown by a quarter)
and every 30 s, but at times of its choosing: not while the process is busy, as in a storm,
unless that has gone on for five minutes. With the startup objects frozen, a full collection
walks only what connections and sessions hold (about 56 objects per camera session; 110,000 for
2,000 cameras, 44-160 ms on a loaded 2-core machine), so a storm ends before it pays for one.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

# gc.set_threshold(young, middle, oldest); CPython's defaults are (700, 10, 10).
THRESHOLDS = (10_000, 20, 100)


def settle_startup_objects() -> None:
    """Call once the server has started: collect what start-up left, freeze what remains
    (imports, settings, the parts), and space the collections out."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


class TimedCollections:
    """Full collections for a timer that calls `tick` every few seconds, while the process was
    not busy since the previous call: once the objects the collector tracks have grown by a
    quarter since the last one, and at least every `quiet_interval` seconds (objects that turn
    into garbage, such as closed connections, do not show as growth). When busy, it waits at
    most `longest_wait` seconds."""

    GROWTH_SHARE = 0.25  # CPython's own rule for when a full collection is worth its walk
    LEAST_GROWTH = 2_000  # objects: below this a small server's garbage holds little memory
    # Above this share of a core since the previous call, the process counts as busy: a quiet
    # server with cameras uses a few percent, a login storm half a core and more.
    BUSY_SHARE = 0.25

    def __init__(
        self,
        quiet_interval: float = 30.0,
        longest_wait: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.process_time,
        count_tracked: Callable[[], int] = lambda: len(gc.get_objects()),
    ) -> None:
        self._quiet_interval, self._longest_wait = quiet_interval, longest_wait
        self._clock, self._cpu_clock, self._count_tracked = clock, cpu_clock, count_tracked
        self._called_at, self._cpu_at = clock(), cpu_clock()
        self._collected_at = self._called_at
        self._tracked_after_collection = count_tracked()

    def tick(self) -> bool:
        """Collect now if it is time; True when it collected."""
        now, cpu = self._clock(), self._cpu_clock()
        busy = cpu - self._cpu_at > self.BUSY_SHARE * (now - self._called_at)
        self._called_at, self._cpu_at = now, cpu
        waited = now - self._collected_at
        if busy:
            due = waited >= self._longest_wait
        else:
            tracked = self._count_tracked()
            # The least seen since, so that objects frozen after start-up do not count.
            baseline = min(self._tracked_after_collection, tracked)
            self._tracked_after_collection = baseline
            grown = tracked - baseline >= max(self.LEAST_GROWTH, self.GROWTH_SHARE * baseline)
            due = grown or waited >= self._quiet_interval
        if not due:
            return False
        gc.collect()
        self._collected_at = now
        self._tracked_after_collection = self._count_tracked()
        return True
