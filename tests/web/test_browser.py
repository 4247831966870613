"""The web app in a real browser: Playwright drives Debian's chromium against the whole
fakecloud on loopback (loopback not trusted, as a LAN client would be), with a simulated camera.

First run (creating the first account), signing out, a wrong password, signing in, a camera
coming online live (measured), its page with WebRTC live video whose test-pattern counter
advances (read from the video element's frames), rename, going offline live, the account page's
tokens, and every page at 390 px without horizontal scroll. Screenshots at 1280x800 and 390x844
go to test-artifacts/web/. No console errors but the one a wrong password causes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from fakecloud.media.testpattern import read_counter
from tests.media.test_viewer_e2e import OWNER, PASSWORD, online
from tests.web.conftest import Cloud

playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright")
CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LIVE_WITHIN = 2.0  # seconds: a camera's change shows on the open page within this
WAIT_MS = 15_000  # bound on every other wait in the browser
# The images a page shows as broken (loaded, with no picture): none may be.
BROKEN_IMAGES = "[...document.images].filter(i => i.complete && !i.naturalWidth).map(i => i.src)"

pytestmark = pytest.mark.slow

# Reads the live view's current frame (a video element, or the MJPEG image) as 8-bit luma
# (base64), at the picture's own size.
FRAME_LUMA = """(video) => {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth || video.naturalWidth;
  canvas.height = video.videoHeight || video.naturalHeight;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0);
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const luma = new Uint8Array(canvas.width * canvas.height);
  for (let i = 0; i < luma.length; i++) {
    luma[i] = (rgba[4 * i] * 299 + rgba[4 * i + 1] * 587 + rgba[4 * i + 2] * 114) / 1000;
  }
  let text = "";
  for (let i = 0; i < luma.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, luma.subarray(i, i + 0x8000));
  }
  return { width: canvas.width, height: canvas.height, luma: btoa(text) };
}"""


class Console:
    """Every console error and uncaught exception of a page; `expected` marks allowed ones."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected: set[str] = set()

    def watch(self, page: Any) -> None:
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _message(self, message: Any) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if not any(url.endswith(path) for path in self.expected):
            self.errors.append(f"{message.text} ({url})")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=CHROMIUM,
            # Loopback is enough for WebRTC: no mDNS names for the host candidates.
            args=["--disable-features=WebRtcHideLocalIpsWithMdns", "--no-sandbox"],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # From the top: scrolled, a full-page capture shows the sticky top bar mid-page.
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def no_horizontal_scroll(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    viewport = await page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url} scrolls sideways: {width} px in {viewport} px"


async def counter_shown(page: Any, selector: str) -> int:
    """The test-pattern counter in the picture the element at `selector` shows now."""
    frame = await page.evaluate(FRAME_LUMA, await page.query_selector(selector))
    luma = np.frombuffer(base64.b64decode(frame["luma"]), np.uint8)
    return read_counter(luma.reshape(frame["height"], frame["width"]))


async def live_counter(page: Any) -> int:
    return await counter_shown(page, "#live [data-live]")


async def advancing_counters(page: Any) -> tuple[int, int]:
    """Two counters read from the live video a moment apart (waiting on the video's clock)."""
    first = await live_counter(page)
    played = await page.evaluate("document.querySelector('video[data-live]').currentTime")
    await page.wait_for_function(
        "(played) => document.querySelector('video[data-live]').currentTime > played + 0.5",
        arg=played,
        timeout=WAIT_MS,
    )
    return first, await live_counter(page)


@contextlib.asynccontextmanager
async def page_in(browser: Any, viewport: dict[str, int], console: Console, **kw: Any) -> Any:
    context = await browser.new_context(viewport=viewport, **kw)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    console.watch(page)
    try:
        yield page
    finally:
        await context.close()


async def first_run_and_sign_in(page: Any, cloud: Cloud, console: Console) -> None:
    await page.goto(cloud.url("/"))
    await page.wait_for_url(cloud.url("/login?next=/"))
    await page.get_by_role("heading", name="Welcome to fakecloud").wait_for()
    await screenshot(page, "first-run-1280")
    await page.fill("#login", OWNER)
    await page.fill("#password", PASSWORD)
    await page.fill("#confirm", PASSWORD)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_url(cloud.url("/"))
    await page.locator("#empty").wait_for()
    assert await page.get_attribute("#empty-setup", "href") == "setup"  # the way to a camera
    await screenshot(page, "home-empty-1280")
    await page.click("#sign-out")
    await page.get_by_role("heading", name="Sign in").wait_for()
    # A wrong password: refused on the page (its 401 is the one expected console error).
    console.expected.add("/api/auth/login")
    await page.fill("#login", OWNER)
    await page.fill("#password", "not the password")
    await page.click("#sign-in button[type=submit]")
    await page.locator("#error", has_text="Wrong login or password").wait_for()
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_url(cloud.url("/"))


async def test_a_newcomer_signs_in_and_watches_a_camera(cloud: Cloud, browser: Any) -> None:
    await cloud.runtime.services.store.remove_account(OWNER)  # a fresh install: no account
    console = Console()
    async with page_in(browser, DESKTOP, console) as page:
        await first_run_and_sign_in(page, cloud, console)
        await page.locator("#empty").wait_for()
        await page.locator('body[data-live="connected"]').wait_for(state="attached")
        async with online(cloud.camera(0)) as camera:
            came_online = time.monotonic()
            tile = page.locator(f'[data-camera="{camera.camera_id}"]')
            await tile.locator('.pill[data-state="online"]').wait_for()
            shown_after = time.monotonic() - came_online
            print(f"online on the home page {shown_after * 1000:.0f} ms after the login")
            assert shown_after < LIVE_WITHIN
            await tile.locator(".picture img").wait_for()
            await screenshot(page, "home-1280")

            await tile.click()
            await page.wait_for_url(f"**/cameras/{camera.camera_id}")
            await page.locator("#live-mode", has_text="WebRTC").wait_for()
            first, second = await advancing_counters(page)
            print(f"live view counter {first} -> {second}")
            assert second > first
            # The connection details show the relay carrying it (refreshed while open).
            carried = re.compile(r"from 127\.0\.0\.1:\d+ UDP")
            relay = page.locator("#camera-details dd", has_text=carried)
            await relay.wait_for()
            assert "1 viewer" in await relay.inner_text()
            await screenshot(page, "camera-1280")

            await page.click("#rename")
            await page.fill("#new-name", "Front door")
            await page.click("#rename-form button[type=submit]")
            await page.locator("#camera-name", has_text="Front door").wait_for()
            stored = await cloud.runtime.services.store.get_camera(camera.camera_id)
            assert stored is not None and stored.name == "Front door"

            state = await page.context.storage_state()
            await phone_pages(browser, cloud, console, state, camera.camera_id)
            await account_tokens(page, cloud)
            await page.goto(cloud.url(f"/cameras/{camera.camera_id}"))
            await page.locator('#camera-head .pill[data-state="online"]').wait_for()
            await page.locator('body[data-live="connected"]').wait_for(state="attached")
            assert await page.locator("#snapshot").is_enabled()
        went_offline = time.monotonic()
        await page.locator('#camera-head .pill[data-state="offline"]').wait_for()
        shown_after = time.monotonic() - went_offline
        print(f"offline on the camera page {shown_after * 1000:.0f} ms after the camera left")
        assert await page.locator("#snapshot").is_disabled()  # no picture to save
        assert shown_after < LIVE_WITHIN
    assert console.errors == []


async def phone_pages(
    browser: Any, cloud: Cloud, console: Console, state: Any, camera_id: int
) -> None:
    """Every page at 390x844, in dark mode: nothing wider than the screen, a dark background."""
    async with page_in(
        browser, PHONE, console, storage_state=state, is_mobile=True, color_scheme="dark"
    ) as phone:
        for path, name, ready in (
            ("/", "home", f'[data-camera="{camera_id}"] .pill'),
            (f"/cameras/{camera_id}", "camera", "#live-mode:has-text('WebRTC')"),
            ("/account", "account", "#token-form"),
        ):
            await phone.goto(cloud.url(path))
            await phone.locator(ready).first.wait_for()
            await no_horizontal_scroll(phone)
            background = await phone.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(15, 20, 27)", background  # the dark theme's --bg
            await screenshot(phone, f"{name}-390")
        # The API docs render offline: Swagger UI's own scripts, from the package.
        await phone.goto(cloud.url("/api/docs"))
        await phone.locator(".swagger-ui .info .title", has_text="fakecloud").wait_for()
        await phone.locator(".opblock-summary-path", has_text="/api/auth/login").first.wait_for()
        await no_horizontal_scroll(phone)
        await screenshot(phone, "api-docs-390")
        await phone.context.clear_cookies()
        await phone.goto(cloud.url("/login"))
        await phone.locator("#sign-in").wait_for()
        await no_horizontal_scroll(phone)
        await screenshot(phone, "login-390")


async def account_tokens(page: Any, cloud: Cloud) -> None:
    """A token made on the account page is shown once and works for a program; revoked, not."""
    await page.goto(cloud.url("/account"))
    await page.fill("#token-label", "home-assistant")
    await page.click("#token-form button[type=submit]")
    token = await page.locator("#token-value").input_value()
    await screenshot(page, "account-1280")
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/cameras", headers=bearer)).status_code == 200
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.click("#tokens button.danger")
        await page.locator("p#tokens", has_text="No tokens yet").wait_for()
        assert (await client.get("/api/cameras", headers=bearer)).status_code == 401


async def sign_in_page(page: Any, cloud: Cloud) -> None:
    await page.goto(cloud.url("/login"))
    await page.fill("#login", OWNER)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_url(cloud.url("/"))


async def test_without_webrtc_the_page_shows_mjpeg_and_manages_the_camera(
    cloud: Cloud, browser: Any
) -> None:
    """A browser without WebRTC gets MJPEG (its counter advances too); the video settings go
    to the camera; Forget removes it and goes home."""
    console = Console()
    async with page_in(browser, DESKTOP, console) as page, online(cloud.camera(0)) as camera:
        await page.add_init_script("delete window.RTCPeerConnection")
        await sign_in_page(page, cloud)
        await page.goto(cloud.url(f"/cameras/{camera.camera_id}"))
        await page.locator("#live-mode", has_text="MJPEG").wait_for()
        first = await live_counter(page)
        second = first
        # Each read takes tens of milliseconds; MJPEG runs at up to 5 fps, so a later frame shows
        # within a bounded number of reads.
        for _ in range(200):
            second = await live_counter(page)
            if second > first:
                break
        print(f"MJPEG live view counter {first} -> {second}")
        assert second > first

        await page.select_option("#video-size", "640x360")
        await page.fill("#video-fps", "10")
        await page.click("#video-form button[type=submit]")
        await page.locator("#toast", has_text="took the new settings").wait_for()
        assert camera.settings["FPS"] == "10" and camera.settings["SIZE"] == "1"

        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.click("#forget")
        await page.wait_for_url(cloud.url("/"))
        assert await cloud.runtime.services.store.get_camera(camera.camera_id) is None
    assert console.errors == []
