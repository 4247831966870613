"""The clients of bench/events: one HLS reader per camera (the reference, plain passthrough), and
an MQTT subscriber that notes when each camera's motion state arrives from the broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import aiomqtt
import httpx

from bench.streams.clients import HOST

SEGMENTS_REMEMBERED = 32
PLAYLIST_RELOAD = 0.5  # seconds; a player reloads about twice per 1 s target duration


class HlsReader:
    """Pulls a camera's live playlist and every new segment, as ffmpeg or hls.js would."""

    def __init__(self, camera_id: int) -> None:
        self.camera_id = camera_id
        self.segments = 0
        self.bytes = 0
        self._seen: deque[str] = deque(maxlen=SEGMENTS_REMEMBERED)

    async def run(self, client: httpx.AsyncClient) -> None:
        """Until cancelled; a playlist not there yet (the stream starting) is asked again."""
        base = f"/api/cameras/{self.camera_id}/hls/"
        while True:
            with contextlib.suppress(httpx.TransportError):
                playlist = await client.get(base + "index.m3u8")
                if playlist.status_code == 200:
                    for line in playlist.text.splitlines():
                        if line and not line.startswith("#") and line not in self._seen:
                            segment = await client.get(base + line)
                            self._seen.append(line)
                            if segment.status_code == 200:
                                self.segments += 1
                                self.bytes += len(segment.content)
            await asyncio.sleep(PLAYLIST_RELOAD)  # a player's reload interval, not a wait


class MotionWatch:
    """Subscribed to `<prefix>/camera/+/motion`: each camera's live (not retained) ON/OFF
    messages with their arrival on this process's loop clock, where the cameras run."""

    def __init__(self, port: int, prefix: str = "fakecloud") -> None:
        self.port = port
        self.topic = f"{prefix}/camera/+/motion"
        self.subscribed = asyncio.Event()
        self._arrivals: dict[int, asyncio.Queue[tuple[float, str]]] = {}

    def _queue(self, camera_id: int) -> asyncio.Queue[tuple[float, str]]:
        return self._arrivals.setdefault(camera_id, asyncio.Queue())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        async with aiomqtt.Client(HOST, self.port, identifier="bench-events") as client:
            await client.subscribe(self.topic, qos=1)
            self.subscribed.set()
            async for message in client.messages:
                arrived = loop.time()
                camera = str(message.topic).split("/")[-2]
                if message.retain or not camera.isdigit():
                    continue
                payload = bytes(message.payload).decode(errors="replace")  # type: ignore[arg-type]
                self._queue(int(camera)).put_nowait((arrived, payload))

    async def next(self, camera_id: int, payload: str, after: float, within: float) -> float:
        """When the first `payload` message for the camera arrived at or after `after`."""
        queue = self._queue(camera_id)
        async with asyncio.timeout(within):
            while True:
                arrived, said = await queue.get()
                if said == payload and arrived >= after:
                    return arrived
