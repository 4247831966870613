"""The camera page's routes on the whole fakecloud, with a simulated camera that obeys
modify-device: rename, video settings, events, connection details and forget."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakecloud.web.routes_cameras import VideoSettings, modify_device
from tests.media.test_viewer_e2e import PASSWORD, online
from tests.web.conftest import Cloud
from tests.web.test_routes_account import browser_client, sign_in

HD = {"size": "1280x720", "fps": 20, "quality": 3}


async def test_rename_is_stored(cloud: Cloud) -> None:
    async with online(cloud.camera(0)) as camera, browser_client(cloud) as client:
        await sign_in(client)
        path = f"/api/cameras/{camera.camera_id}"
        renamed = await client.put(f"{path}/name", json={"name": "  Garden  "})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Garden"
        assert (await client.get(path)).json()["name"] == "Garden"
        long = await client.put(f"{path}/name", json={"name": "x" * 201})
        assert long.status_code == 422
        cleared = await client.put(f"{path}/name", json={"name": ""})
        assert cleared.json()["name"] is None


async def test_video_settings_reach_the_camera_as_modify_device(cloud: Cloud) -> None:
    async with online(cloud.camera(0)) as camera, browser_client(cloud) as client:
        await sign_in(client)
        path = f"/api/cameras/{camera.camera_id}/video"
        reply = await client.put(path, json={"size": "640x360", "fps": 12, "quality": 2})
        assert reply.status_code == 200, reply.text
        assert (
            reply.json()["sent"] == f"modify-device|{camera.camera_id}|QTY=2+FPS=12+SIZE=1+SAVE=1|"
        )
        assert reply.json()["answer"].startswith("ack|modify-device|")
        assert camera.settings["FPS"] == "12" and camera.settings["SIZE"] == "1"
        details = (await client.get(f"/api/cameras/{camera.camera_id}/connection")).json()
        assert details["video"] == {"size": "640x360", "fps": 12, "quality": 2}
        assert details["online"] and details["session"]["peer"].startswith("127.0.0.1:")
        assert details["firmware"] and details["history"][0]["event"].startswith("login")
        assert details["relay"] == []  # nobody watches: the relay carries nothing for it
        bad = await client.put(path, json={**HD, "fps": 99})
        assert bad.status_code == 422
    async with browser_client(cloud) as client:
        await sign_in(client)
        offline = await client.put(path, json=HD)
        assert offline.status_code == 409 and "not online" in offline.text


async def test_forgetting_a_camera_and_who_may(cloud: Cloud) -> None:
    await cloud.runtime.services.store.add_account("bob", PASSWORD)
    async with online(cloud.camera(0)) as camera:
        camera_id = camera.camera_id
        await camera.report_motion()
    store = cloud.runtime.services.store
    async with browser_client(cloud) as bob:
        await sign_in(bob, "bob")
        assert (await bob.delete(f"/api/cameras/{camera_id}")).status_code == 404
        assert (await bob.get(f"/api/cameras/{camera_id}/events")).status_code == 404
    async with browser_client(cloud) as client:
        await sign_in(client)
        events = (await client.get(f"/api/cameras/{camera_id}/events")).json()
        assert isinstance(events, list)
        assert (await client.delete(f"/api/cameras/{camera_id}")).status_code == 204
        assert (await client.get(f"/api/cameras/{camera_id}")).status_code == 404
    assert await store.get_camera(camera_id) is None


@given(
    size=st.sampled_from(["320x180", "640x360", "1280x720"]),
    fps=st.integers(1, 25),
    quality=st.integers(1, 5),
)
def test_every_valid_setting_makes_one_well_formed_command(
    size: str, fps: int, quality: int
) -> None:
    command = modify_device(7, VideoSettings(size=size, fps=fps, quality=quality))
    name, camera, fields, end = command.split("|")
    assert (name, camera, end) == ("modify-device", "7", "")
    assert (
        fields
        == f"QTY={quality}+FPS={fps}+SIZE={['320x180', '640x360', '1280x720'].index(size)}+SAVE=1"
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    )
)
async def test_any_json_body_is_answered_without_a_server_error(cloud: Cloud, body: object) -> None:
    async with browser_client(cloud) as client:
        await sign_in(client)
        for path in ("/api/cameras/1/name", "/api/cameras/1/video"):
            assert (await client.put(path, json=body)).status_code < 500
        for path in ("/api/auth/login", "/api/account/tokens", "/api/account/password"):
            assert (await client.post(path, json=body)).status_code < 500


async def test_an_account_lists_pending_cameras_but_not_their_video(cloud: Cloud) -> None:
    """From the LAN (not trusted) an account sees a pending camera, to approve it for itself;
    its picture and connection stay private until then."""
    store = cloud.runtime.services.store
    pending = await store.add_pending_camera(mac="02:FC:00:00:00:77")
    await store.add_account("bob", PASSWORD)
    async with browser_client(cloud) as client:
        await sign_in(client)
        listed = (await client.get("/api/cameras")).json()
        assert [c["pending"] for c in listed if c["id"] == pending.id] == [True]
        assert (await client.get(f"/api/cameras/{pending.id}")).status_code == 200
        for private in ("snapshot.jpg", "connection"):
            path = f"/api/cameras/{pending.id}/{private}"
            assert (await client.get(path)).status_code == 404, private
    await store.approve_camera(pending.id, "bob")
    async with browser_client(cloud) as client:
        await sign_in(client)  # not bob: bob's camera is not listed any more
        assert pending.id not in [c["id"] for c in (await client.get("/api/cameras")).json()]
