"""The API docs ask nothing of the internet, in Debian's chromium, as from the LAN: the page is
opened by a name (`fakecloud.lan`, mapped to loopback by chromium's own resolver rule), as some
of Swagger UI's and ReDoc's parts act differently on localhost. Every request the pages make
stays on this server (ReDoc's logo came from cdn.redoc.ly), no image is broken, no console
error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from fakecloud.core.config import Settings
from fakecloud.web.api_docs import REDOC_LOGO, redoc_script
from tests.media.test_viewer_e2e import running_cloud
from tests.web.test_browser import BROKEN_IMAGES, CHROMIUM, Console, page_in, playwright_api

pytestmark = pytest.mark.slow
NAME = "fakecloud.lan"


@pytest.fixture
async def lan_browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", f"--host-resolver-rules=MAP {NAME} 127.0.0.1"],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/api/docs", ".swagger-ui .info .title"),
        # ReDoc draws its logo once it has mounted: loaded from here, it is not broken.
        ("/api/redoc", "img[alt='redocly logo']"),
    ],
)
async def test_the_api_docs_fetch_nothing_from_the_internet(
    settings: Settings, lan_browser: Any, path: str, rendered: str
) -> None:
    console = Console()
    async with (
        running_cloud(settings, allowed_hosts=[NAME]) as cloud,
        page_in(lan_browser, {"width": 1280, "height": 800}, console) as page,
    ):
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(f"http://{NAME}:{cloud.http_port}{path}")
        await page.locator(rendered).first.wait_for()
        await page.wait_for_load_state("networkidle")
        assert await page.evaluate(BROKEN_IMAGES) == []
    elsewhere = [url for url in requested if urlsplit(url).hostname not in (NAME, None)]
    assert elsewhere == [] and requested, requested
    assert console.errors == []


def test_redocs_script_keeps_its_size_without_the_logo_url() -> None:
    script = redoc_script()
    assert REDOC_LOGO not in script and len(script) > 500_000
