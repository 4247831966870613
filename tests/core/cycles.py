"""Garbage as a long-lived connection leaves it, for the collector's tests."""

from __future__ import annotations

import gc
import weakref


class _Node:
    partner: object


def old_garbage_cycle(objects: int = 2) -> weakref.ref[object]:
    """A ring of `objects` objects that survives two younger collections (so it sits in the
    oldest generation), then becomes garbage: as a connection's objects do that live a while and
    then close. The answer shows when the ring is freed."""
    ring = [_Node() for _ in range(objects)]
    for node, partner in zip(ring, ring[1:] + ring[:1], strict=True):
        node.partner = partner
    gc.collect(1)  # still reachable: moved on to the oldest generation
    gone = weakref.ref(ring[0])
    del ring, node, partner
    gc.collect(1)  # the younger generations do not see it any more
    return gone
