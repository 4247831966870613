"""The setup wizard lists the devices that asked the DNS shim for vendor names, and sets a
camera up from the browser (Debian's chromium, the helpers of
test_browser.py): the setup-mode simulator on loopback, its network's DNS a real fakecloud DNS
shim. A wrong Wi-Fi password is explained with its fix; the right one goes through every step,
and the camera then logging in shows in "waiting for your camera", owned by the account. At
1280x800 and at 390x844 in dark mode without horizontal scroll; no console errors."""

from __future__ import annotations

from typing import Any

from fakecloud.core.config import Settings
from fakecloud.sim.camera import SimulatedCamera
from tests.dns.clients import addresses, ask
from tests.media.test_viewer_e2e import OWNER, PASSWORD, online, running_cloud
from tests.onboard.conftest import HOME, WIFI_PASSWORD, SetupBench, bench
from tests.web.conftest import Cloud
from tests.web.test_browser import (
    DESKTOP,
    PHONE,
    Console,
    browser,
    no_horizontal_scroll,
    page_in,
    screenshot,
    sign_in_page,
)

__all__ = ["bench", "browser"]  # the fixtures, shared

SETUP_MS = 30_000  # every step of the setup, on a contended machine


async def run_setup(page: Any, bench: SetupBench, wifi_password: str) -> str:
    """Fills the wizard's form and runs it; the outcome's text."""
    await page.fill("#setup-camera-ip", "127.0.0.1")
    await page.fill("#setup-camera-port", bench.url.rsplit(":", 1)[1])
    await page.fill("#setup-ssid", HOME.ssid)
    await page.fill("#setup-wifi-password", wifi_password)
    await page.fill("#setup-password", PASSWORD)
    await page.click("#setup-form button[type=submit]")
    await page.locator("#setup-result[data-result]").wait_for(timeout=SETUP_MS)
    return await page.locator("#setup-result").inner_text()


async def test_the_wizard_sets_a_camera_up(cloud: Cloud, browser: Any, bench: SetupBench) -> None:
    bench.camera.pending_polls = 0  # the camera's checks answer at the first poll
    console = Console()
    async with page_in(browser, DESKTOP, console) as page:
        await sign_in_page(page, cloud)
        await page.goto(cloud.url("/setup"))
        await page.locator("p#seen").wait_for()
        await page.locator('body[data-live="connected"]').wait_for(state="attached")

        outcome = await run_setup(page, bench, "not the wifi password")
        assert "fail to get ip" in outcome and "Fix: check the Wi-Fi password" in outcome
        assert await page.locator("#setup-password").input_value() == ""  # not kept in the page

        outcome = await run_setup(page, bench, WIFI_PASSWORD)
        assert outcome.startswith("Done"), outcome
        steps = await page.locator("#setup-progress li").evaluate_all(
            "items => items.map(item => item.dataset.step)"
        )
        assert {"preview", "scan", "verify", "account", "register", "finish"} <= set(steps)
        assert bench.camera.owner == (OWNER, PASSWORD) and bench.camera.name == "Porch"
        await screenshot(page, "setup-camera-1280")

        # Out of setup mode the camera logs in with what it was given: the wizard's list shows it.
        login, password = bench.camera.owner
        restarted = SimulatedCamera(
            "127.0.0.1", cloud.cloud_port, login=login, password=password, mac=bench.camera.mac
        )
        async with online(restarted):
            seen = page.locator(f'#seen [data-camera="{restarted.camera_id}"]')
            await seen.locator('.pill[data-state="online"]').wait_for()
        state = await page.context.storage_state()

    async with page_in(
        browser, PHONE, console, storage_state=state, is_mobile=True, color_scheme="dark"
    ) as phone:
        await phone.goto(cloud.url("/setup"))
        await phone.locator("#seen li").first.wait_for()
        bench.camera.resolver = None  # this network's DNS does not answer
        assert "fail to dns" in await run_setup(phone, bench, WIFI_PASSWORD)
        await no_horizontal_scroll(phone)
        await screenshot(phone, "setup-camera-390")
    assert console.errors == []


async def test_the_wizard_shows_who_asked_for_vendor_names(
    settings: Settings, browser: Any
) -> None:
    console = Console()
    async with running_cloud(settings, dns_enabled=True) as cloud:
        shim = cloud.runtime.part("dns")
        reply = await ask(shim, "server.seedonk.com")  # type: ignore[arg-type]
        assert addresses(reply) == [cloud.runtime.settings.effective_announce_address]
        async with page_in(browser, PHONE, console, is_mobile=True, color_scheme="dark") as page:
            await sign_in_page(page, cloud)
            await page.goto(cloud.url("/setup"))
            asker = page.locator("#dns-askers li", has_text="server.seedonk.com")
            assert "127.0.0.1" in await asker.inner_text()
            assert "answered with fakecloud" in await asker.inner_text()
            await no_horizontal_scroll(page)
            await screenshot(page, "setup-dns-390")
    assert console.errors == []
