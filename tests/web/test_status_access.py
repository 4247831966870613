"""`/api/status` tells strangers only which parts run; owners and trusted clients see it all."""

from __future__ import annotations

import httpx

from tests.media.test_viewer_e2e import OWNER, PASSWORD, online
from tests.web.conftest import Cloud


async def test_a_stranger_sees_no_camera_or_session(cloud: Cloud) -> None:
    async with online(cloud.camera(0)) as camera, httpx.AsyncClient() as client:
        stranger = await client.get(cloud.url("/api/status"))
        owner = await client.get(cloud.url("/api/status"), auth=(OWNER, PASSWORD))
        wrong = await client.get(cloud.url("/api/status"), auth=(OWNER, "not the password"))
    assert stranger.status_code == owner.status_code == wrong.status_code == 200
    assert "drops" in owner.json()["parts"]["relay"]  # the full status
    for refused in (stranger, wrong):
        assert str(camera.camera_id) not in refused.text and camera.mac not in refused.text
        assert set(refused.json()) == {"version", "parts", "detail"}
        assert "relay" in refused.json()["parts"]
