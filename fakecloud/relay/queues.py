"""A small non-blocking building block: a bounded datagram queue."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

Overflow = Literal["drop_oldest", "drop_newest"]


class DatagramQueue:
    """A FIFO that never blocks its producer: when full it drops (and counts) one datagram.

    Live media prefers the newest data, so the default drops the oldest queued datagram.
    """

    def __init__(self, limit: int, overflow: Overflow = "drop_oldest") -> None:
        if limit < 1:
            raise ValueError("a queue needs room for at least one datagram")
        self._items: deque[bytes] = deque()
        self._limit = limit
        self._overflow = overflow
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, datagram: bytes) -> bool:
        """Queue a datagram; False when this put dropped one (or the queue is closed)."""
        if self._closed:
            return False
        if len(self._items) < self._limit:
            self._items.append(datagram)
            self._ready.set()
            return True
        self.dropped += 1
        if self._overflow == "drop_oldest":
            self._items.popleft()
            self._items.append(datagram)
        return False

    async def get(self) -> bytes | None:
        """The next datagram, or None once the queue is closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def close(self) -> None:
        self._closed = True
        self._ready.set()
