"""Feeding an output from the hub: wait for the first frame, then follow the live stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub


class NoVideoError(Exception):
    """The camera sent no video within the allowed time."""


class UnsupportedCodecError(Exception):
    """The camera's codec cannot be served in the requested form."""


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Security consideration: a stalled camera cannot hold a subscription forever (the idle
    timeout ends it); a viewer that keeps reading may watch without end unless `max_duration`
    is set, because a 24/7 recorder must not get a gap on a timer. Each viewer costs one
    bounded queue, and the viewer caps per camera bound how many there are."""

    video_timeout: float = 10.0  # a known camera without video within this → NoVideoError
    idle_timeout: float = 15.0  # a running stream that stalls this long ends
    max_duration: float | None = None  # a viewer stream ends after this; None = no limit


async def live_frames(
    hub: MediaHub, camera_id: int, limits: StreamLimits
) -> AsyncGenerator[MediaFrame, None]:
    """The camera's frames from a fresh subscription (so the stream is demanded while this runs).

    Raises NoVideoError before the first frame; afterwards a stall or the time limit just ends
    the iteration. The first H.264 frame is a keyframe."""
    async with aclosing(live_batches(hub, camera_id, limits)) as batches:
        async for batch in batches:
            for frame in batch:
                yield frame


async def live_batches(
    hub: MediaHub, camera_id: int, limits: StreamLimits
) -> AsyncGenerator[list[MediaFrame], None]:
    """Like `live_frames`, but each step yields every frame queued by then (at least one), so a
    consumer slower than the camera catches up in one step instead of one frame at a time."""
    loop = asyncio.get_running_loop()
    async with hub.subscribe(camera_id) as subscription:
        try:
            frame = await subscription.next_within(limits.video_timeout)
        except (TimeoutError, StopAsyncIteration):
            raise NoVideoError(
                f"camera {camera_id} sent no video within {limits.video_timeout:g} s"
            ) from None
        deadline = None if limits.max_duration is None else loop.time() + limits.max_duration
        while True:
            batch = [frame]
            while subscription.queued:  # queued frames come out at once, without waiting
                batch.append(await anext(subscription))
            yield batch
            wait = limits.idle_timeout
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
            try:
                frame = await subscription.next_within(wait)
            except (TimeoutError, StopAsyncIteration):
                return
