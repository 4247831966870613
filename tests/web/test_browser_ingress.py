"""The web app behind Home Assistant's ingress, in Debian's chromium (the helpers and fixtures of
test_browser.py and the stand-in Supervisor proxy of test_ingress.py): Home Assistant's page
frames the panel, which signs in, shows the home page with a camera, opens the camera's page
with live video (WebRTC, and MJPEG in a browser without WebRTC) and signs out, every request
under the ingress prefix and no console error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.media.test_viewer_e2e import OWNER, PASSWORD, online
from tests.web.conftest import Cloud
from tests.web.test_browser import DESKTOP, Console, browser, page_in, screenshot
from tests.web.test_ingress import IngressProxy, ingress_cloud, proxy

__all__ = ["browser", "ingress_cloud", "proxy"]  # the fixtures, shared

pytestmark = pytest.mark.slow


async def test_the_panel_works_under_the_ingress_prefix(
    ingress_cloud: Cloud, proxy: IngressProxy, browser: Any
) -> None:
    console = Console()
    async with (
        page_in(browser, DESKTOP, console) as page,
        online(ingress_cloud.camera(0)) as camera,
    ):
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(proxy.url("/panel"))
        panel = page.frame_locator("iframe")
        await panel.get_by_role("heading", name="Sign in").wait_for()
        frame = page.main_frame.child_frames[0]
        assert frame.url == proxy.ingress_url("/login?next=/")
        await panel.locator("#login").fill(OWNER)
        await panel.locator("#password").fill(PASSWORD)
        await panel.locator("#sign-in button[type=submit]").click()

        tile = panel.locator(f'[data-camera="{camera.camera_id}"]')
        await tile.locator('.pill[data-state="online"]').wait_for()
        await tile.locator(".picture img").wait_for()
        await panel.locator('body[data-live="connected"]').wait_for(state="attached")
        assert frame.url == proxy.ingress_url("/")
        await screenshot(page, "ingress-home-1280")

        await tile.click()
        await panel.locator("#live-mode", has_text="WebRTC").wait_for()
        assert frame.url == proxy.ingress_url(f"/cameras/{camera.camera_id}")
        await panel.locator('#camera-head .pill[data-state="online"]').wait_for()
        await screenshot(page, "ingress-camera-1280")
        state = await page.context.storage_state()
        async with page_in(browser, DESKTOP, console, storage_state=state) as plain:
            plain.on("request", lambda request: requested.append(request.url))
            await plain.add_init_script("delete window.RTCPeerConnection")
            await plain.goto(proxy.url("/panel"))
            await (
                plain.frame_locator("iframe").locator(f'[data-camera="{camera.camera_id}"]').click()
            )
            mjpeg = plain.frame_locator("iframe").locator("#live-mode", has_text="MJPEG")
            await mjpeg.wait_for()

        await panel.locator("#sign-out").click()
        await panel.get_by_role("heading", name="Sign in").wait_for()
        assert frame.url.startswith(proxy.ingress_url("/login"))
    outside = [url for url in requested if not url.startswith(proxy.ingress_url("/"))]
    # Home Assistant's own page (twice), and no other
    assert outside == [proxy.url("/panel")] * 2, outside
    assert any("/stream.mjpeg" in url for url in requested)
    assert console.errors == []
