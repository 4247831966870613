"""Proof that a client's H.264 is real video: PyAV decodes it, and each picture's arrival is
noted (the long-session test checks the gaps)."""

from __future__ import annotations

import asyncio
import itertools

import av

WITHIN = 20.0


class Pictures:
    """Decodes the H.264 a client hands out with PyAV and notes when each picture came."""

    def __init__(self) -> None:
        self.codec = av.CodecContext.create("h264", "r")
        self.times: list[float] = []
        self.sizes: set[tuple[int, int]] = set()
        self.undecodable = 0
        self._wanted = 0
        self._enough = asyncio.Event()

    def __call__(self, data: bytes, now: float) -> None:
        try:
            for packet in self.codec.parse(data):
                for picture in self.codec.decode(packet):
                    self.times.append(now)
                    self.sizes.add((picture.width, picture.height))
        except av.error.InvalidDataError:
            self.undecodable += 1  # e.g. pictures before the first keyframe
        if self._wanted and len(self.times) >= self._wanted:
            self._enough.set()

    async def until(self, count: int, within: float = WITHIN) -> None:
        self._wanted = count
        self._enough.clear()
        if len(self.times) >= count:
            return
        async with asyncio.timeout(within):
            await self._enough.wait()

    def longest_gap(self, until: float) -> float:
        moments = [*self.times, until]
        return max(later - earlier for earlier, later in itertools.pairwise(moments))
