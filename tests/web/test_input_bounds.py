"""Out-of-range ids and non-ASCII keys are the client's mistake (4xx), never a 500."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.media.test_viewer_e2e import OWNER
from tests.web.conftest import Cloud
from tests.web.test_routes_cxs import store

TOO_BIG = str(1 << 63)
PATHS = (
    "/api/cameras/{id}",
    "/api/cameras/{id}/snapshot.jpg",
    "/api/cameras/{id}/hls/index.m3u8",
    "/cxs/api/devices/{id}",
    "/cxs/api/devices/{id}/cam/recentImage.jpg",
)


@pytest.mark.parametrize("path", PATHS)
async def test_ids_beyond_sqlite_integers_are_refused(cloud: Cloud, path: str) -> None:
    token = await store(cloud).issue_token(OWNER)
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        for camera_id in (TOO_BIG, "99999999999999999999999", "-1"):
            answer = await client.get(
                path.format(id=camera_id), headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 422, (camera_id, answer.status_code)
        assert (await client.get("/healthz")).status_code == 200  # still serving


async def test_a_non_ascii_key_is_a_bad_request(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        answer = await client.get(
            "/camsetup/retrievecamera.php",
            params={"login": OWNER, "mac": "EC:1A:59:5D:C5:DC", "key": "é" * 32},
        )
    assert answer.status_code == 400 and "ASCII" in answer.text


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.text(max_size=64), login=st.text(max_size=40))
async def test_retrievecamera_answers_any_query_without_a_server_error(
    cloud: Cloud, key: str, login: str
) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        answer = await client.get(
            "/camsetup/retrievecamera.php",
            params={"login": login, "mac": "EC:1A:59:5D:C5:DC", "key": key},
        )
    assert answer.status_code < 500, (key, login, answer.status_code)
