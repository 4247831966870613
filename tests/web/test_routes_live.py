"""Live camera changes as server-sent events, read by a real HTTP client from the whole
fakecloud while a simulated camera comes online and leaves."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from fakecloud.web.routes_live import MAX_LISTENERS
from tests.media.test_viewer_e2e import OWNER, PASSWORD, online
from tests.web.conftest import Cloud

LIVE_WITHIN = 2.0  # seconds, what the pages promise


class EventStream:
    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines

    async def next_camera(self, within: float = LIVE_WITHIN) -> dict[str, Any]:
        """The next `event: camera` message's data, within `within` seconds."""
        async with asyncio.timeout(within):
            kind = None
            async for line in self._lines:
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "camera":
                    return dict(json.loads(line[6:]))
        raise AssertionError("the stream ended")


@asynccontextmanager
async def listening(cloud: Cloud, auth: tuple[str, str]) -> AsyncIterator[EventStream]:
    async with (
        httpx.AsyncClient(base_url=cloud.url(""), auth=auth, timeout=10) as client,
        client.stream("GET", "/api/live") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert (await anext(lines)).startswith("retry: ")  # the server has subscribed
        yield EventStream(lines)


async def test_a_camera_coming_and_going_is_sent_at_once(cloud: Cloud) -> None:
    async with listening(cloud, (OWNER, PASSWORD)) as stream:
        async with online(cloud.camera(0)) as camera:
            started = time.monotonic()
            message = await stream.next_camera()
            print(f"online event {1000 * (time.monotonic() - started):.0f} ms after the login")
            assert message["camera_id"] == camera.camera_id and message["state"] == "online"
        message = await stream.next_camera()
        assert message["camera_id"] == camera.camera_id and message["state"] == "offline"


async def test_another_account_hears_nothing_of_the_camera(cloud: Cloud) -> None:
    await cloud.runtime.services.store.add_account("bob", PASSWORD)
    async with (
        listening(cloud, ("bob", PASSWORD)) as bobs,
        listening(cloud, (OWNER, PASSWORD)) as own,
    ):
        async with online(cloud.camera(0)):
            assert (await own.next_camera())["state"] == "online"
        assert (await own.next_camera())["state"] == "offline"
        # Both events have been published by now: bob's stream holds neither.
        try:
            message = await bobs.next_camera(within=0.3)
        except TimeoutError:
            message = None
        assert message is None


async def test_strangers_and_too_many_pages_are_refused(cloud: Cloud) -> None:
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=cloud.url(""), auth=(OWNER, PASSWORD), timeout=10)
        )
        assert (await client.get("/api/live", auth=None)).status_code == 401
        for _ in range(MAX_LISTENERS):
            response = await stack.enter_async_context(client.stream("GET", "/api/live"))
            assert response.status_code == 200
        assert (await client.get("/api/live")).status_code == 503
    # The pages have gone: the server hears of it and drops their subscriptions.
    await until(lambda: "web-live" not in cloud.runtime.services.bus.status()["subscribers"])


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for a condition the server reaches on its own, checked every 20 ms."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.02)
