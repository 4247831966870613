"""Rate limits shared by every listener: token buckets (one, or one per key) and a log throttle."""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable


class TokenBucket:
    """`rate` events per second on average, with bursts of up to `burst`."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._clock = clock
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class KeyedTokenBuckets:
    """One TokenBucket per key (a client address), for at most `max_keys` keys: the least
    recently used key is forgotten first, so the memory stays bounded whoever asks."""

    def __init__(
        self,
        rate: float,
        burst: float,
        max_keys: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, key: str) -> bool:
        bucket = self._buckets.pop(key, None) or TokenBucket(self._rate, self._burst, self._clock)
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return bucket.take()

    def __len__(self) -> int:
        return len(self._buckets)


class LogThrottle:
    """Says when a recurring event may be logged again: once per `interval` seconds per key."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def ready(self, key: str) -> int | None:
        """None while quiet; else how many events were suppressed since the last log line."""
        now = time.monotonic()
        if now - self._last.get(key, float("-inf")) < self.interval:
            self._suppressed[key] += 1
            return None
        self._last[key] = now
        return self._suppressed.pop(key, 0)
