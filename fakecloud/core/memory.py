"""Giving freed memory back to the system (glibc's malloc), so RSS falls after a flood.

A password check allocates scrypt's 16 MiB work area on a login-pool thread. glibc serves a block
that large with mmap() and unmaps it when freed, but after the first such free it raises its
mmap threshold to that size: from then on 16 MiB blocks come from the threads' own arenas and are
kept there, so a wrong-password flood leaves the process tens of MiB larger for good (measured:
2 threads hashing go from 16 to 48 MiB and stay; with a fixed threshold they stay at 16).
Fixing the threshold also turns that dynamic raise off. What a flood frees on the main thread
(TLS connections, records) leaves holes in the heap below its top, which only malloc_trim()
returns; the server trims every `TRIM_INTERVAL` seconds, and right after each full collection
of garbage cycles (core/collector.py): memory that garbage holds comes back only once it is
freed.

Elsewhere (musl, macOS) these are no-ops that say so at debug level.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging

from fakecloud.core.collector import TimedCollections

log = logging.getLogger(__name__)

# mallopt() parameters, from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
# Blocks from this size up are mmapped and go back to the system when freed: scrypt's work
# area, image and codec buffers. Smaller ones (the heap's usual traffic) stay in the arenas.
LARGE_BLOCK_BYTES = 1024 * 1024
# How often the server gives back what its arenas have free: a flood's TLS connections and
# records leave holes in the heap that its top cannot return. A trim takes well under a
# millisecond on a quiet heap and about 10 ms on 250 MiB of holes (measured).
TRIM_INTERVAL = 10.0
# The collector's timer looks this often per interval, so that the first quiet seconds after
# a flood are the ones that collect and trim.
CHECKS_PER_INTERVAL = 5


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The running process's C library when it is glibc (it has mallopt and malloc_trim)."""
    try:
        libc = ctypes.CDLL(None)
        for name in ("gnu_get_libc_version", "mallopt", "malloc_trim"):  # the first: glibc only
            getattr(libc, name)
    except (OSError, AttributeError):
        log.debug("not glibc: malloc tuning and trimming are left out")
        return None
    return libc


def return_large_blocks(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Serve blocks of `threshold` bytes and more with mmap, so freeing them returns them to the
    system; True when glibc took the setting. Call once at start (repeating it is harmless)."""
    libc = _glibc()
    if libc is None:
        return False
    taken = bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    if not taken:
        log.debug("mallopt(M_MMAP_THRESHOLD, %d) was refused", threshold)
    return taken


def return_freed_memory() -> bool:
    """Give memory freed in every arena back to the system (malloc_trim); True when some was."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


def keep_returning_memory(interval: float = TRIM_INTERVAL) -> None:
    """For a server's running loop: large blocks always returned; garbage cycles collected when
    worth it (core/collector.py); freed memory returned after each collection and at least every
    `interval` seconds. The timer ends with the loop."""
    trims = return_large_blocks()
    loop = asyncio.get_running_loop()
    collections = TimedCollections()
    trimmed_at = loop.time()

    def tick() -> None:
        nonlocal trimmed_at
        # On the loop: the collector needs the GIL either way.
        collected = collections.tick()
        if trims and (collected or loop.time() - trimmed_at >= interval):
            trimmed_at = loop.time()
            # Off the loop: on a fragmented heap one trim takes tens of milliseconds.
            loop.run_in_executor(None, return_freed_memory)
        loop.call_later(interval / CHECKS_PER_INTERVAL, tick)

    loop.call_later(interval / CHECKS_PER_INTERVAL, tick)
