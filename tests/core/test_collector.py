"""settle_startup_objects: what start-up made is frozen, and collections are spaced out;
TimedCollections: garbage that grew old is collected, later while the process is busy."""

from __future__ import annotations

import gc

from fakecloud.core.collector import THRESHOLDS, TimedCollections, settle_startup_objects
from tests.core.cycles import old_garbage_cycle


def test_startup_objects_leave_the_collectors_sight(restored_collector: None) -> None:
    settle_startup_objects()
    assert gc.get_freeze_count() > 1000  # the imported modules' objects at least
    assert gc.get_threshold() == THRESHOLDS


def test_cycles_made_afterwards_are_still_collected(restored_collector: None) -> None:
    settle_startup_objects()

    class Node:
        partner: object

    first, second = Node(), Node()
    first.partner, second.partner = second, first
    del first, second
    assert gc.collect() >= 2


class Process:
    """Wall and CPU time and the number of tracked objects, moved by the test."""

    def __init__(self, tracked: int) -> None:
        self.wall = self.cpu = 0.0
        self.tracked = tracked

    def run(self, seconds: float, cpu_share: float, new_tracked: int = 0) -> None:
        self.wall += seconds
        self.cpu += seconds * cpu_share
        self.tracked += new_tracked

    def collections(self) -> TimedCollections:
        return TimedCollections(30, 300, lambda: self.wall, lambda: self.cpu, lambda: self.tracked)


def test_garbage_that_grew_old_is_collected_when_the_process_is_quiet(
    restored_collector: None,
) -> None:
    settle_startup_objects()
    gone = old_garbage_cycle()
    # counted as a server sees it: 40,000 objects, a flood adds 20,000
    process = Process(tracked=40_000)
    collections = process.collections()
    process.run(2, cpu_share=0.05, new_tracked=5_000)
    assert collections.tick() is False  # grown by an eighth: not worth a walk
    process.run(2, cpu_share=0.05, new_tracked=15_000)
    assert collections.tick() is True
    assert gone() is None


def test_a_busy_process_puts_the_collection_off_for_at_most_five_minutes(
    restored_collector: None,
) -> None:
    settle_startup_objects()
    gone = old_garbage_cycle()
    process = Process(tracked=10_000)
    collections = process.collections()
    process.run(2, cpu_share=0.9, new_tracked=50_000)
    assert collections.tick() is False
    for _ in range(148):  # to 298 s of a storm
        process.run(2, cpu_share=0.9)
        assert collections.tick() is False
    assert gone() is not None
    process.run(2, cpu_share=0.9)
    assert collections.tick() is True
    assert gone() is None


def test_the_first_quiet_seconds_after_a_storm_collect(restored_collector: None) -> None:
    process = Process(tracked=10_000)
    collections = process.collections()
    for _ in range(10):
        process.run(2, cpu_share=0.9, new_tracked=11_000)
        assert collections.tick() is False
    process.run(2, cpu_share=0.05)
    assert collections.tick() is True


def test_objects_frozen_after_the_timer_started_are_not_growth(restored_collector: None) -> None:
    process = Process(tracked=50_000)  # the imports, before settle_startup_objects
    collections = process.collections()
    process.run(2, cpu_share=0.05, new_tracked=-49_000)  # frozen
    assert collections.tick() is False
    process.run(2, cpu_share=0.05, new_tracked=1_500)  # a small server's sessions
    assert collections.tick() is False
    process.run(2, cpu_share=0.05, new_tracked=1_000)  # 2,500 over the 1,000 left
    assert collections.tick() is True


def test_connections_that_closed_are_collected_within_half_a_minute(
    restored_collector: None,
) -> None:
    settle_startup_objects()
    process = Process(tracked=60_000)  # 1,200 held connections ...
    collections = process.collections()
    gone = old_garbage_cycle()  # ... closed: garbage, and no more objects than before
    ticks = []
    for _ in range(15):
        process.run(2, cpu_share=0.05)
        ticks.append(collections.tick())
    assert ticks == [False] * 14 + [True]
    assert gone() is None
