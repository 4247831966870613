"""/metrics is for trusted networks and accounts only (here loopback is not trusted)."""

from __future__ import annotations

import httpx

from tests.media.test_viewer_e2e import OWNER, PASSWORD
from tests.web.conftest import Cloud


async def test_only_an_account_reads_the_metrics(cloud: Cloud) -> None:
    async with httpx.AsyncClient() as client:
        stranger = await client.get(cloud.url("/metrics"))
        wrong = await client.get(cloud.url("/metrics"), auth=(OWNER, "not the password"))
        owner = await client.get(cloud.url("/metrics"), auth=(OWNER, PASSWORD))
    assert stranger.status_code == wrong.status_code == 401
    assert "fakecloud_cameras_online" not in stranger.text + wrong.text
    assert owner.status_code == 200 and "fakecloud_cameras_online 0.0" in owner.text


async def test_without_the_metrics_part_the_route_says_so(cloud: Cloud) -> None:
    every_part = cloud.runtime.parts
    cloud.runtime.parts = [part for part in every_part if part.name != "metrics"]
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(cloud.url("/metrics"), auth=(OWNER, PASSWORD))
    finally:
        cloud.runtime.parts = every_part  # so it is stopped with the rest
    assert response.status_code == 503
