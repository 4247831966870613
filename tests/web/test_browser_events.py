"""Events, recordings and webhook failures in Debian's chromium (the helpers and fixtures of
test_browser.py): a camera's motion shows on its page as an event with its picture and as a
clip that plays in the page's <video> and downloads as an MP4 ffprobe reads; a webhook URL that
refuses a delivery shows on the status page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakecloud.core.config import Settings
from fakecloud.core.events import Motion, RecordingFinished
from tests.integrations.webhooks.receiver import Receiver, receiver
from tests.media.test_viewer_e2e import WITHIN, online
from tests.recording.clips import probe
from tests.web.conftest import Cloud
from tests.web.test_browser import DESKTOP, Console, browser, page_in, screenshot, sign_in_page

__all__ = ["browser"]  # the fixture, shared

REFUSED = 400  # given up at once (not retried), so the status page shows it without waiting


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as started:
        yield started


@pytest.fixture
def settings(settings: Settings, hooks: Receiver) -> Settings:
    return settings.model_copy(
        update={
            "record_mode": "motion",
            "record_pre_seconds": 1.0,
            "record_post_seconds": 1.0,
            "webhook_urls": [f"http://127.0.0.1:{hooks.port}/hook"],
        }
    )


async def motion_with_a_clip(cloud: Cloud, camera_id: int) -> None:
    """A motion start and end on the bus (as the detector publishes them), until its clip is
    finished; the event log stores the start with a picture meanwhile."""
    bus = cloud.runtime.services.bus
    finished = bus.subscribe("test", RecordingFinished)
    try:
        bus.publish(Motion(camera_id, {"state": "start", "source": "server"}))
        store = cloud.runtime.services.store
        async with asyncio.timeout(WITHIN):
            while not await store.list_events(camera_id, 1):  # noqa: ASYNC110 - polling state
                await asyncio.sleep(0.05)
            await asyncio.sleep(2)  # motion going on for 2 s: the clip's length, not a wait
            bus.publish(Motion(camera_id, {"state": "end", "source": "server"}))
            assert isinstance(await finished.get(), RecordingFinished)
    finally:
        finished.close()


async def test_events_recordings_and_webhook_failures_in_the_dashboard(
    cloud: Cloud, browser: Any, hooks: Receiver, tmp_path: Path
) -> None:
    hooks.answers.put(REFUSED)  # the first delivery (motion start) is refused
    console = Console()
    async with page_in(browser, DESKTOP, console) as page, online(cloud.camera(0)) as camera:
        camera_id = camera.camera_id
        assert camera_id is not None
        async with asyncio.timeout(WITHIN):
            await camera.video_running.wait()  # the recorder made the camera stream
        await motion_with_a_clip(cloud, camera_id)
        await sign_in_page(page, cloud)
        await page.goto(cloud.url(f"/cameras/{camera_id}"))

        picture = page.locator("#camera-events li[data-event] .event-picture img").first
        await picture.wait_for()
        await page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                                     arg=await picture.element_handle())  # fmt: skip
        assert await picture.evaluate("(img) => img.naturalWidth") == 1280

        clip = page.locator("#camera-recordings li[data-clip]").first
        await clip.wait_for()
        await clip.locator("button.play").click()
        video = page.locator("#clip video")
        await page.wait_for_function("(v) => v.readyState >= 2 && v.duration > 1",
                                     arg=await video.element_handle())  # fmt: skip
        await screenshot(page, "camera-events-1280")

        async with page.expect_download() as downloading:
            await clip.locator("a", has_text="Download").click()
        download = await downloading.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        assert saved.name.startswith(f"camera{camera_id}-") and saved.suffix == ".mp4"
        found = probe(saved)
        assert (found["codec_name"], found["width"]) == ("h264", 1280)

        await page.goto(cloud.url("/status"))
        failure = page.locator('#parts [data-part="webhooks"] .failure')
        await failure.wait_for()
        assert f"HTTP {REFUSED}" in (await failure.text_content() or "")
    assert console.errors == []
