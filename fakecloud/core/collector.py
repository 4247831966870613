"""Python's cyclic garbage collector, kept from pausing a login storm.

With the defaults, a full (oldest-generation) collection walks every object the process holds,
the tens of thousands made by imports (FastAPI, PyAV, cryptography) included: 70-100 ms with the
event loop stopped, measured in `bench/broker` halfway through 2,000 logins, and at 500 logins a
second such a stop leaves a queue that takes several times as long to drain (p99 110-250 ms).
Once the server has started, its long-lived objects are moved out of the collector's sight
(`gc.freeze`), and collections run less often: the young generation after 10,000 net allocations
instead of 700, the oldest after 100 middle ones instead of 10. Cycles are still collected; a
storm of 2,000 logins then sees no full collection (measured: none, where there were two).
"""

from __future__ import annotations

import gc

# gc.set_threshold(young, middle, oldest); CPython's defaults are (700, 10, 10).
THRESHOLDS = (10_000, 20, 100)


def settle_startup_objects() -> None:
    """Call once the server has started: collect what start-up left, freeze what remains
    (imports, settings, the parts), and space the collections out."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
