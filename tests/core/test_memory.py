"""Freed memory goes back to the system (core/memory.py): measured in a fresh process; old
garbage cycles are collected on the server loop's timer."""

from __future__ import annotations

import asyncio
import platform
import subprocess
import sys
import textwrap

import pytest

from fakecloud.core.collector import settle_startup_objects
from fakecloud.core.memory import keep_returning_memory, return_freed_memory, return_large_blocks
from tests.core.cycles import old_garbage_cycle

IS_GLIBC = platform.libc_ver()[0] == "glibc"
glibc_only = pytest.mark.skipif(not IS_GLIBC, reason="malloc tuning is glibc's (elsewhere a no-op)")


@glibc_only
def test_the_settings_are_taken_and_can_be_repeated() -> None:
    assert return_large_blocks() is True
    assert return_large_blocks() is True
    assert isinstance(return_freed_memory(), bool)
    assert isinstance(return_freed_memory(), bool)


@pytest.mark.skipif(IS_GLIBC, reason="only where glibc is absent")
def test_elsewhere_they_are_no_ops() -> None:
    assert return_large_blocks() is False
    assert return_freed_memory() is False


# What the scripts below measure with: the process's RSS in MiB.
_RSS = textwrap.dedent(
    """
    def rss():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    """
)

# scrypt as the store hashes passwords (16 MiB work area each) on two pool threads, as the
# login pool runs them; prints RSS in MiB before and after.
_HASHING = _RSS + textwrap.dedent(
    """
    import hashlib, os, sys
    from concurrent.futures import ThreadPoolExecutor
    from fakecloud.core.memory import return_large_blocks

    if sys.argv[1] == "fixed":
        assert return_large_blocks()
    def check(number):
        hashlib.scrypt(b"wrong %d" % number, salt=os.urandom(16), n=2**14, r=8, p=1)
    before = rss()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(check, range(8)))
        print(before, rss())
    """
)


def _rss_around_hashing(mode: str) -> tuple[float, float]:
    shown = subprocess.run(
        [sys.executable, "-c", _HASHING, mode], capture_output=True, check=True, timeout=120
    )
    before, after = shown.stdout.split()
    return float(before), float(after)


@glibc_only
def test_scrypt_buffers_go_back_to_the_system() -> None:
    before, after = _rss_around_hashing("fixed")
    # one 16 MiB work area may still be mapped while a thread exits; without the setting the
    # two threads keep 32 MiB (checked below, so the measure can tell them apart)
    assert after - before < 12
    unfixed_before, unfixed_after = _rss_around_hashing("default")
    assert unfixed_after - unfixed_before > 24


# Holes in the heap, as a flood's connections leave them: 90 % of 3,000 blocks freed.
_FRAGMENTED = _RSS + textwrap.dedent(
    """
    import asyncio, ctypes
    from fakecloud.core.memory import keep_returning_memory

    async def main():
        blocks = [ctypes.create_string_buffer(20_000 + number % 7 * 1000) for number in range(3000)]
        kept = blocks[::10]
        del blocks
        before = rss()
        keep_returning_memory(0.05)
        for _ in range(200):  # at most 10 s: the trim runs on this loop's timer
            await asyncio.sleep(0.05)
            if rss() < before - 30:
                break
        print(before, rss(), len(kept))

    asyncio.run(main())
    """
)


@glibc_only
def test_a_server_loop_returns_the_holes_a_flood_leaves() -> None:
    shown = subprocess.run(
        [sys.executable, "-c", _FRAGMENTED], capture_output=True, check=True, timeout=120
    )
    before, after, _ = (float(figure) for figure in shown.stdout.split())
    assert before - after > 30


async def test_a_server_loop_collects_garbage_that_grew_old(restored_collector: None) -> None:
    settle_startup_objects()
    keep_returning_memory(0.05)
    gone = old_garbage_cycle(objects=5_000)  # more than TimedCollections.LEAST_GROWTH
    for _ in range(100):  # at most 5 s: the collection runs on this loop's timer
        if gone() is None:
            break
        await asyncio.sleep(0.05)
    assert gone() is None
