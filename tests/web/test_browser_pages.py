"""The setup wizard, the status page and the protocol page in Debian's chromium (the helpers
and fixtures of test_browser.py): a camera that comes online shows on the open wizard, the
doctor runs from the status page, the protocol page's export downloads with no password and no
MAC in it; every page at 1280x800 and at 390x844 in dark mode without horizontal scroll."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from fakecloud.sim.camera import SimulatedCamera
from tests.media.test_viewer_e2e import OWNER, online, simulated_mac
from tests.web.conftest import Cloud
from tests.web.test_browser import (
    BROKEN_IMAGES,
    DESKTOP,
    PHONE,
    Console,
    browser,
    no_horizontal_scroll,
    page_in,
    screenshot,
    sign_in_page,
)
from tests.web.test_routes_protocol import CAMERA_MAC, CAMERA_PASSWORD, camera_login_capture

__all__ = ["browser"]  # the fixture, shared

DOCTOR_MS = 60_000  # the doctor waits on DNS and port probes: a bound of its own


async def wizard_sees_the_camera_come_online(page: Any, cloud: Cloud) -> None:
    await page.goto(cloud.url("/setup"))
    await page.locator("p#seen").wait_for()
    await page.locator('body[data-live="connected"]').wait_for(state="attached")
    address = cloud.runtime.settings.effective_announce_address
    assert await page.locator("#announce").text_content() == address
    await page.click("#setup-cli summary")  # the command line, folded under the form
    assert f"--account '{OWNER}'" in (await page.locator("#setup-command").text_content() or "")
    await page.fill("#setup-ssid", "Attic net")
    await page.locator("#setup-command", has_text="--ssid 'Attic net'").wait_for()
    await page.select_option("#router", "hosts")
    await page.locator("#recipe", has_text=f"{address} server.seedonk.com").wait_for()
    await page.locator("#ca-links a[href='ca.mobileconfig']").wait_for()
    async with online(cloud.camera(0)) as camera:
        await page.locator(f'#seen [data-camera="{camera.camera_id}"] .pill').wait_for()
        await screenshot(page, "setup-1280")


async def doctor_from_the_status_page(page: Any, cloud: Cloud) -> None:
    await page.goto(cloud.url("/status"))
    await page.locator('#parts [data-part="frontdoor"] .pill').wait_for()
    await page.click("#run-doctor")
    await page.locator("#doctor-checks .check").first.wait_for(timeout=DOCTOR_MS)
    names = await page.locator("#doctor-checks .check strong").all_text_contents()
    assert "server" in names, names
    await page.locator("#doctor-verdict").wait_for()
    await screenshot(page, "status-1280")


async def redacted_export(page: Any, cloud: Cloud, downloads: Path) -> None:
    await page.goto(cloud.url("/protocol"))
    await page.locator('#captures .capture[data-kind="http"]').first.wait_for()
    shown = await page.locator("#captures").text_content() or ""
    assert "/goform/login" in shown and CAMERA_MAC not in shown
    await page.locator("#hostnames").wait_for()
    await screenshot(page, "protocol-1280")
    async with page.expect_download() as started:
        await page.click("#export")
    download = await started.value
    saved = downloads / download.suggested_filename
    await download.save_as(saved)
    exported = saved.read_text()
    assert "/goform/login" in exported
    assert CAMERA_PASSWORD not in exported and CAMERA_MAC not in exported


async def test_setup_status_and_protocol_pages(cloud: Cloud, browser: Any, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        await camera_login_capture(client)
    console = Console()
    async with page_in(browser, DESKTOP, console, accept_downloads=True) as page:
        await sign_in_page(page, cloud)
        await wizard_sees_the_camera_come_online(page, cloud)
        await doctor_from_the_status_page(page, cloud)
        await redacted_export(page, cloud, tmp_path)
        state = await page.context.storage_state()
    async with page_in(
        browser, PHONE, console, storage_state=state, is_mobile=True, color_scheme="dark"
    ) as phone:
        for path, ready in (
            ("/setup", "#recipe"),
            ("/protocol", "#captures .capture"),
            ("/status", "#parts .part"),  # last: its doctor runs next
        ):
            await phone.goto(cloud.url(path))
            await phone.locator(ready).first.wait_for()
            await no_horizontal_scroll(phone)
            await screenshot(phone, f"{path.strip('/')}-390")
        await phone.click("#run-doctor")
        await phone.locator("#doctor-checks .check").first.wait_for(timeout=DOCTOR_MS)
        await no_horizontal_scroll(phone)
        await screenshot(phone, "status-doctor-390")
    assert console.errors == []


# Records what each copy puts on the clipboard (the `copy` event sees the selection) and
# removes navigator.clipboard, as on plain HTTP from the LAN, which is not a secure context.
INSECURE_CLIPBOARD = """
delete Navigator.prototype.clipboard;
window.copied = [];
document.addEventListener("copy", () => window.copied.push(String(document.getSelection())));
"""


async def test_copy_buttons_work_without_a_secure_context(cloud: Cloud, browser: Any) -> None:
    console = Console()
    async with page_in(browser, DESKTOP, console) as page:
        await page.add_init_script(INSECURE_CLIPBOARD)
        await sign_in_page(page, cloud)
        await page.goto(cloud.url("/setup"))
        await page.locator("#recipe").wait_for()
        assert await page.evaluate("window.isSecureContext && !!navigator.clipboard") is False
        await page.click("#recipe-copy")
        await page.click("#setup-cli summary")
        await page.click("#setup-command-copy")
        await page.locator(".toast", has_text="Copied").first.wait_for()
        copied = await page.evaluate("window.copied")
        assert copied == [
            await page.locator("#recipe").text_content(),
            await page.locator("#setup-command").text_content(),
        ]
    assert console.errors == []


async def test_a_new_camera_is_approved_from_its_tile(cloud: Cloud, browser: Any) -> None:
    """A camera whose login carries no account shows up live as pending, with no picture and no
    broken image; Approve makes it the signed-in account's."""
    console = Console()
    async with page_in(browser, PHONE, console, is_mobile=True, color_scheme="dark") as page:
        await sign_in_page(page, cloud)
        await page.locator('body[data-live="connected"]').wait_for(state="attached")
        stranger = SimulatedCamera(
            "127.0.0.1", cloud.cloud_port, login=None, password=None, mac=simulated_mac(5)
        )
        async with online(stranger):
            tile = page.locator(f'[data-camera="{stranger.camera_id}"]')
            await tile.locator('.pill[data-state="pending"]').wait_for()
            assert await page.evaluate(BROKEN_IMAGES) == []
            await no_horizontal_scroll(page)
            await screenshot(page, "home-pending-390")
            await tile.get_by_role("button", name="Approve").click()
            await tile.locator('.pill[data-state="online"]').wait_for()
        approved = await cloud.runtime.services.store.get_camera(stranger.camera_id)
        assert approved is not None and approved.owner == OWNER and not approved.pending
    assert console.errors == []
