"""settle_startup_objects: what start-up made is frozen, and collections are spaced out."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from fakecloud.core.collector import THRESHOLDS, settle_startup_objects


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


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
