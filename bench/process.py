"""What the benchmarks read about a server process they started (CPU time, resident memory),
and how they stop it.

CPU time comes from the process's CPU-time clock (nanoseconds); /proc's clock ticks (10 ms) are
the fallback, too coarse for a one-viewer relay run that uses a few tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Linux names a process's CPU-time clock (~pid << 3) | CPUCLOCK_SCHED.
CPUCLOCK_SCHED = 2


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    try:
        return time.clock_gettime((~pid << 3) | CPUCLOCK_SCHED)
    except OSError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def rss_mib(pid: int) -> float:
    return rss_bytes(pid) / (1 << 20)


async def stop_child(child: asyncio.subprocess.Process, deadline: float = 10.0) -> None:
    """End a server child that runs until its stdin closes; killed if it outlives `deadline`."""
    if child.stdin is not None:
        child.stdin.close()
    try:
        async with asyncio.timeout(deadline):
            await child.wait()
    except TimeoutError:
        child.kill()
        await child.wait()
