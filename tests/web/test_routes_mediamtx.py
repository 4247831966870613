"""MediaMTX's authentication hook against the real server on loopback (loopback NOT trusted, as
for a LAN client): reads follow fakecloud's accounts and ownership, publishing is for this host."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.media.test_viewer_e2e import OWNER, PASSWORD, WITHIN, Cloud, online
from tests.web.conftest import cloud

__all__ = ["cloud"]  # the fixture

LAN_CLIENT = "192.168.1.30"


async def ask(cloud: Cloud, **question: Any) -> int:
    async with httpx.AsyncClient(timeout=WITHIN) as client:
        answer = await client.post(cloud.url("/api/mediamtx/auth"), json=question)
    return answer.status_code


async def test_reads_follow_fakecloud_accounts(cloud: Cloud) -> None:
    store = cloud.runtime.services.store
    async with online(cloud.camera(7)) as camera:
        path = str(camera.camera_id)
        token = (await store.issue_token(OWNER)).partition(".accessToken:")[2]
        await store.add_account("mallory", "another password")

        def read(**fields: Any) -> dict[str, Any]:
            return {"action": "read", "path": path, "ip": LAN_CLIENT, "protocol": "rtsp", **fields}

        assert await ask(cloud, **read()) == 401  # MediaMTX then asks its client to log in
        assert await ask(cloud, **read(user=OWNER, password=PASSWORD)) == 204
        assert await ask(cloud, **read(user=OWNER, password=token)) == 204
        assert await ask(cloud, **read(user=OWNER, password="wrong")) == 401
        assert await ask(cloud, **read(user="mallory", password="another password")) == 403
        assert await ask(cloud, **read(user=OWNER, password=token, path="9" * 12)) == 403
        for action in ("playback", "api", "metrics"):
            assert await ask(cloud, **read(action=action, user=OWNER, password=token)) == 403


async def test_only_this_host_publishes(cloud: Cloud) -> None:
    assert await ask(cloud, action="publish", path="1", ip="127.0.0.1") == 204
    assert await ask(cloud, action="publish", path="1", ip=LAN_CLIENT) == 403
    assert await ask(cloud, action="publish", path="1", ip="not an address") == 403


async def test_malformed_questions_are_refused(cloud: Cloud) -> None:
    async with httpx.AsyncClient(timeout=WITHIN) as client:
        url = cloud.url("/api/mediamtx/auth")
        assert (await client.post(url, content=b"{not json")).status_code == 422
        assert (await client.post(url, json={"user": "x"})).status_code == 422  # no action
        long_path = {"action": "read", "path": "x" * 600}
        assert (await client.post(url, json=long_path)).status_code == 422


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
QUESTIONS = st.fixed_dictionaries(
    {}, optional={key: JSON for key in ("user", "password", "ip", "action", "path", "query")}
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(question=QUESTIONS | JSON)
async def test_any_body_gets_an_answer_never_a_crash(cloud: Cloud, question: Any) -> None:
    async with httpx.AsyncClient(timeout=WITHIN) as client:
        answer = await client.post(cloud.url("/api/mediamtx/auth"), json=question)
    assert answer.status_code in {204, 401, 403, 422}
