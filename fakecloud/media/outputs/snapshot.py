"""Still pictures: the camera's latest frame as a JPEG."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

from fakecloud.core.memory import return_freed_memory
from fakecloud.media.frames import MediaFrame
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs.pictures import (
    H264Decoder,
    JpegEncoder,
    PictureError,
)
from fakecloud.media.outputs.streaming import StreamLimits, live_frames


class _GopDecoder:
    """One camera's decoder, kept while its keyframe is current so each snapshot decodes only
    the frames that arrived since the previous one."""

    def __init__(self, keyframe: MediaFrame, qscale: int):
        self.keyframe = keyframe
        self.decoder = H264Decoder()
        self.encoder = JpegEncoder(qscale)
        self.decoded = 0
        self.jpeg: bytes | None = None

    def advance(self, gop: Sequence[MediaFrame]) -> bytes:
        picture = None
        for frame in gop[self.decoded :]:
            picture = self.decoder.decode(frame) or picture
            self.decoded += 1
        if picture is not None:
            self.jpeg = self.encoder.encode(picture)
        if self.jpeg is None:
            raise PictureError("the camera's latest frames do not decode to a picture")
        return self.jpeg

    def close(self) -> None:
        self.decoder.close()
        self.encoder.close()


class SnapshotMaker:
    """JPEG snapshots: JPEG cameras' frames as they are, H.264 decoded up to the latest frame.

    Decoding runs in the default executor; one decoder per camera (the most recently used
    `max_cameras` are kept), cached per keyframe, and closed when the camera's stream stops
    (`forget`): each holds about 13 MiB of reference pictures."""

    def __init__(
        self, hub: MediaHub, limits: StreamLimits, *, qscale: int = 5, max_cameras: int = 16
    ):
        self.hub = hub
        self.limits = limits
        self.qscale = qscale
        self.max_cameras = max_cameras
        self._decoders: OrderedDict[int, _GopDecoder] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}

    async def snapshot(self, camera_id: int) -> bytes:
        """The latest picture; starts the stream when it is not live (NoVideoError if nothing
        comes within the video timeout)."""
        gop = self.hub.latest_pictures(camera_id)
        if not gop:
            # Subscribing demands the stream; the hub's linger keeps it warm for the next ones.
            async with aclosing(live_frames(self.hub, camera_id, self.limits)) as frames:
                await anext(frames)
            gop = self.hub.latest_pictures(camera_id)
            if not gop:
                raise PictureError(f"camera {camera_id} stopped sending video")
        if gop[-1].codec == "jpeg":
            return gop[-1].data
        lock = self._locks.setdefault(camera_id, asyncio.Lock())
        async with lock:
            state = self._decoders.pop(camera_id, None)
            if state is None or state.keyframe is not gop[0] or state.decoded > len(gop):
                state = _GopDecoder(gop[0], self.qscale)
            self._decoders[camera_id] = state
            while len(self._decoders) > self.max_cameras:
                self._decoders.popitem(last=False)
            if state.decoded == len(gop) and state.jpeg is not None:
                return state.jpeg
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, state.advance, gop)

    async def forget(self, camera_id: int) -> None:
        """Close the camera's decoder (its stream stopped); the next snapshot opens a new one."""
        if camera_id not in self._decoders:
            return
        async with self._locks[camera_id]:  # not mid-decode
            state = self._decoders.pop(camera_id, None)
            if state is None:
                return
            state.close()
        # Off the loop: trimming walks the heap.
        await asyncio.get_running_loop().run_in_executor(None, return_freed_memory)

    def status(self) -> dict[str, Any]:
        return {"decoders": len(self._decoders)}
