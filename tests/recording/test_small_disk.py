"""Recording onto a real, tiny filesystem: it stops (one warning) before the free space drops
under the floor, the server keeps serving, and it records again once space returns."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fakecloud.core.config import Settings
from fakecloud.core.events import RecordingFinished
from tests.capture.test_small_disk import small_disk  # noqa: F401 - the fixture, shared
from tests.media.test_viewer_e2e import WITHIN, online, running_cloud

FLOOR = 512 << 10
HEADROOM = 40 << 10  # what the filler leaves above the floor: a few seconds of test pattern


class LogWaiter(logging.Handler):
    """Sets an asyncio event when a log line matching `pattern` is emitted (any thread)."""

    def __init__(self, pattern: str) -> None:
        super().__init__(logging.INFO)
        self.pattern = re.compile(pattern)
        self.loop = asyncio.get_running_loop()
        self.seen = asyncio.Event()
        self.lines: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.pattern.search(record.getMessage()):
            self.lines.append(record)
            self.loop.call_soon_threadsafe(self.seen.set)

    async def next(self) -> None:
        async with asyncio.timeout(WITHIN):
            await self.seen.wait()
        self.seen.clear()


@pytest.fixture
def recorder_log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("fakecloud.recording.part")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield logger
    logger.setLevel(level)


def free_bytes(path: Path) -> int:
    usage = os.statvfs(path)
    return usage.f_bavail * usage.f_frsize


def fill_to_headroom(disk: Path) -> Path:
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (free_bytes(disk) - FLOOR - HEADROOM))
    return filler


async def test_recording_stops_at_the_floor_and_resumes(
    settings: Settings,
    small_disk: Path,  # noqa: F811 - the fixture imported above
    recorder_log: logging.Logger,
) -> None:
    changes = {
        "record_mode": "continuous",
        "record_dir": small_disk,
        "record_min_free_bytes": FLOOR,
    }
    stopped, resumed, opened = (
        LogWaiter("recording stopped"),
        LogWaiter("recording resumes"),
        LogWaiter(": recording "),
    )
    for waiter in (stopped, resumed, opened):
        recorder_log.addHandler(waiter)
    try:
        async with (
            running_cloud(settings, **changes) as cloud,
            online(cloud.camera(0)) as camera,
            httpx.AsyncClient(base_url=cloud.url(""), timeout=WITHIN) as client,
        ):
            finished = cloud.runtime.services.bus.subscribe("test", RecordingFinished)
            await opened.next()
            filler = fill_to_headroom(small_disk)
            await stopped.next()
            async with asyncio.timeout(WITHIN):
                first = await finished.get()
            assert isinstance(first, RecordingFinished) and first.seconds > 0
            assert free_bytes(small_disk) >= FLOOR  # it stopped before the floor
            # Everything else still works while recording is stopped.
            status = (await client.get("/api/status")).json()["parts"]["recordings"]
            assert status["out_of_space"] is True
            snapshot = await client.get(f"/api/cameras/{camera.camera_id}/snapshot.jpg")
            assert snapshot.status_code == 200
            listed = (await client.get("/api/recordings")).json()
            assert [clip["name"] for clip in listed] == [Path(first.path).name]

            filler.unlink()  # space returns: the next keyframe opens a new clip
            await resumed.next()
            await opened.next()
            fill_to_headroom(small_disk)
            await stopped.next()
            async with asyncio.timeout(WITHIN):
                second = await finished.get()
            assert isinstance(second, RecordingFinished) and second.path != first.path
            assert free_bytes(small_disk) >= FLOOR
            # One warning each time the disk reached its floor, not one per frame.
            assert len(stopped.lines) == 2 and len(resumed.lines) == 1
    finally:
        for waiter in (stopped, resumed, opened):
            recorder_log.removeHandler(waiter)
