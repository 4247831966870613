"""`/cxs/api` as public clients call and parse it, on the real server over real sockets.

The clients are re-implemented here from their published sources, step by step, so these tests
agree with the clients and not with fakecloud:

- R: rfiorentino1/homebridge-myq src/tend-api.ts (`listCameras`, `getDevice`, `buildCameraInfo`):
  Bearer token + AntiCSRF, the list under `items`, `type == "cam"`, each device fetched again,
  `ownership.ownerAlias` of the list item, `id`/`serialNumber`/`alias` required in the full
  record, the MAC taken from the last six `:` fields of `alias`, the AES key in
  `settings.p2pKey`.
- H: a public myQ/Tend Node client (docs/protocol.md section 9, fid:70851189937) and the Homey
  camera driver using it: headers `partnerid: myQ`, `anticsrf: AntiCSRF`; `GET /devices` -> `items`;
  `GET /events?v=2&limit=&endDttm=<now + 60 s, toISOString()>` -> `items` (`id`, `srcId`,
  `dttm`, `status`, `tags.peopleCount`...); `GET /events/{id}/media/thumbnail?includeHidden=true`;
  `GET /devices/{id}/cam/recentImage.jpg?forceRefresh=true`.
- P: the Belkin portal client yyunikov/belkin-netcam-server (LoginPage.kt, BelkinNetCam.kt):
  `POST /cxs/api/auth/login` with headers AntiCSRF, Host netcam.belkin.com, Origin, Referer and a
  body built as `{"username":` + login + `, "password":` + password + `}` (no quotes added), then
  the `SeedonkSession` cookie of the response.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fakecloud.web.routes_cxs import EVENT_PICTURES_DIR
from tests.media.test_viewer_e2e import OWNER, PASSWORD, online
from tests.web.conftest import Cloud, tls_context

MAC = "EC:1A:59:5D:C5:DC"
R_APP_HEADERS = {"AntiCSRF": "AntiCSRF", "User-Agent": "myQ/310.0.63387", "App-Version": "5.310"}
H_HEADERS = {"Accept": "*/*", "partnerid": "myQ", "anticsrf": "AntiCSRF"}
PORTAL_HEADERS = {
    "AntiCSRF": "AntiCSRF",
    "Host": "netcam.belkin.com",
    "Origin": "https://netcam.belkin.com",
    "Referer": "https://netcam.belkin.com/app/c/login.html",
    "Content-Type": "application/json; charset=utf-8",
}
JPEG_START = b"\xff\xd8"


def store(cloud: Cloud) -> Any:
    return cloud.runtime.services.store


def bare(token: str) -> str:
    """The token alone, as a myQ access token is (the store hands out the CX_PASSWD form)."""
    return token.partition(".accessToken:")[2]


# -- R: homebridge-myq's tend-api.ts, step by step ------------------------------------------------


def r_build_camera_info(device: dict[str, Any], account_id: str) -> dict[str, Any] | None:
    identifier, serial, alias = device.get("id"), device.get("serialNumber"), device.get("alias")
    if not identifier or not serial or not alias:
        return None
    settings = device.get("settings") or {}
    cam_cap = (device.get("cap") or {}).get("cam") or {}
    res_list = cam_cap.get("resList") or []
    return {
        "account_id": account_id,
        "aes_key": settings.get("p2pKey", ""),
        "alias": alias,
        "id": identifier,
        "mac": ":".join(alias.split(":")[-6:]),
        "name": settings.get("displayName", f"myQ Camera {identifier}"),
        "resolution": res_list[0]["id"] if res_list else "1280x720",
        "serial_number": serial,
    }


async def r_list_cameras(client: httpx.AsyncClient, jwt: str) -> list[dict[str, Any]]:
    headers = {"Authorization": "Bearer " + jwt, **R_APP_HEADERS}
    response = await client.get("/cxs/api/devices", headers=headers)
    if not response.is_success:
        return []
    data = response.json()
    # `data.items ?? []`: a bare JSON array has no `items`, so it yields no cameras at all.
    items = (data.get("items") if isinstance(data, dict) else None) or []
    cameras = []
    for item in items:
        if item.get("type") != "cam":
            continue
        full = await client.get(f"/cxs/api/devices/{item['id']}", headers=headers)
        if not full.is_success:
            continue
        account_alias = (item.get("ownership") or {}).get("ownerAlias") or ""
        info = r_build_camera_info(full.json(), re.sub("^myq", "", account_alias))
        if info:
            cameras.append(info)
    return cameras


# -- H: the Node myQ/Tend client and its Homey driver ---------------------------------------------


async def h_tend(
    client: httpx.AsyncClient, token: str, path: str, query: dict[str, str] | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **H_HEADERS}
    response = await client.get("/cxs/api" + path, params=query, headers=headers)
    assert response.is_success, (path, response.status_code, response.text)
    return response


def to_iso_string(moment: datetime) -> str:
    """JavaScript's Date.prototype.toISOString()."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


async def h_camera_events(
    client: httpx.AsyncClient, token: str, limit: int = 20, end: str | None = None
) -> list[dict[str, Any]]:
    query = {
        "v": "2",
        "limit": str(limit),
        "endDttm": end or to_iso_string(datetime.now(UTC) + timedelta(seconds=60)),
    }
    response = await h_tend(client, token, "/events", query)
    return response.json().get("items") or []


def homey_detections(event: dict[str, Any]) -> tuple[int, int]:
    """What the Homey driver reads of an event: `Number(tags.peopleCount) || 0` and vehicles."""
    tags = event.get("tags") or {}
    return int(tags.get("peopleCount") or 0), int(tags.get("movingVehicleCount") or 0)


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
async def token(cloud: Cloud) -> str:
    return await store(cloud).issue_token(OWNER)


@pytest.fixture
async def camera(cloud: Cloud) -> Any:
    return await store(cloud).upsert_camera(mac=MAC, owner=OWNER, name="Porch")


def http_client(cloud: Cloud) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=cloud.url(""), timeout=10)


# -- devices --------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["bare", "cx_passwd"])
async def test_homebridge_myq_finds_the_camera_with_alias_and_owner_alias(
    cloud: Cloud, token: str, camera: Any, form: str
) -> None:
    account = await store(cloud).get_account(OWNER)
    async with http_client(cloud) as client:
        found = await r_list_cameras(client, bare(token) if form == "bare" else token)
    assert found == [
        {
            "account_id": account.alias,
            "aes_key": camera.p2p_key,
            "alias": f"{account.alias}:{MAC}",
            "id": str(camera.id),
            "mac": MAC,
            "name": "Porch",
            "resolution": "320x180",
            "serial_number": MAC.replace(":", ""),
        }
    ]


async def test_homebridge_myq_through_the_tls_front_door(
    cloud: Cloud, token: str, camera: Any
) -> None:
    """The same client over HTTPS on a cloud port, verifying fakecloud's certificate for the
    portal's name (the front door hands HTTP to the same app)."""
    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{cloud.cloud_port}", verify=tls_context(cloud), timeout=10
    ) as client:
        client.event_hooks["request"] = [_sni("netcam.belkin.com")]
        found = await r_list_cameras(client, bare(token))
    assert [entry["id"] for entry in found] == [str(camera.id)]


def _sni(name: str) -> Any:
    async def hook(request: httpx.Request) -> None:
        request.extensions["sni_hostname"] = name

    return hook


async def test_the_device_record_keeps_the_belkin_fields(
    cloud: Cloud, token: str, camera: Any
) -> None:
    """docs/protocol.md section 6: the shape Belkin's server returned, field for field."""
    account = await store(cloud).get_account(OWNER)
    async with http_client(cloud) as client:
        record = (await h_tend(client, bare(token), f"/devices/{camera.id}")).json()
    assert record["id"] == str(camera.id) and record["type"] == "cam"
    assert record["ownership"] == {"ownerId": str(account.id), "ownerAlias": account.alias}
    assert [res["id"] for res in record["cap"]["cam"]["resList"]] == [
        "320x180",
        "640x360",
        "1280x720",
    ]
    assert record["cap"]["cam"]["codecList"] == ["H264"]
    assert record["cap"]["cam"]["motionService"]["eventTypeList"] == ["MOTION_MJPEG"]
    assert record["hw"]["platform"] == "Seedonk:Imogen-IV" and record["hw"]["partnerId"] == "Belkin"
    assert record["net"]["eth"]["mac"] == MAC and record["net"]["eth"]["lport"] == 9490
    assert record["status"] == {"online": False, "deleted": False}
    assert record["settings"]["displayName"] == "Porch"
    assert record["settings"]["p2pKey"] == camera.p2p_key


async def test_the_node_client_lists_cameras_with_its_headers(
    cloud: Cloud, token: str, camera: Any
) -> None:
    async with http_client(cloud) as client:
        items = (await h_tend(client, bare(token), "/devices")).json()["items"] or []
    # Its test script prints these fields of each camera.
    assert [(c["id"], c["hw"]["model"], c["status"]["online"]) for c in items] == [
        (str(camera.id), "NetCam", False)
    ]


async def test_an_account_sees_only_its_own_cameras(cloud: Cloud, token: str, camera: Any) -> None:
    await store(cloud).add_account("bob", "bob's long password")
    bobs_token = await store(cloud).issue_token("bob")
    async with http_client(cloud) as client:
        assert await r_list_cameras(client, bare(bobs_token)) == []
        headers = {"Authorization": f"Bearer {bare(bobs_token)}"}
        for path in ("", "/cam/recentImage.jpg?forceRefresh=true", "/cam/liveStream"):
            response = await client.get(f"/cxs/api/devices/{camera.id}{path}", headers=headers)
            assert response.status_code == 404, path
        # Alice still sees hers with the same client.
        assert len(await r_list_cameras(client, bare(token))) == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Bearer myQ.accessToken:not-a-token", "Token abc"],
)
async def test_requests_without_a_valid_credential_are_refused(
    cloud: Cloud, camera: Any, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with http_client(cloud) as client:
        for path in ("/cxs/api/devices", f"/cxs/api/devices/{camera.id}", "/cxs/api/events"):
            response = await client.get(path, headers=headers | H_HEADERS)
            assert response.status_code == 401, (path, response.text)


async def test_basic_with_a_token_and_a_revoked_token(
    cloud: Cloud, token: str, camera: Any
) -> None:
    async with http_client(cloud) as client:
        response = await client.get("/cxs/api/devices", auth=(OWNER, bare(token)))
        assert response.status_code == 200
        assert [item["id"] for item in response.json()["items"]] == [str(camera.id)]
        await store(cloud).revoke_tokens(OWNER)
        headers = {"Authorization": f"Bearer {bare(token)}"}
        assert (await client.get("/cxs/api/devices", headers=headers)).status_code == 401


# -- the Belkin portal's login ---------------------------------------------------------------------


def portal_body(username: str, password: str) -> str:
    """LoginPage.kt's request body, pieces pasted around the user's input."""
    return '{"username":' + username + ', "password":' + password + "}"


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (OWNER, PASSWORD),  # typed without quotes: the body is not JSON
        (f'"{OWNER}"', f'"{PASSWORD}"'),  # typed with quotes: the body is JSON
    ],
)
async def test_the_portal_client_logs_in_and_uses_its_cookie(
    cloud: Cloud, camera: Any, username: str, password: str
) -> None:
    async with http_client(cloud) as client:
        for url in ("/cxs/api/auth/login", "/cxs/api/auth/login"):  # US, then EU
            response = await client.post(
                url, content=portal_body(username, password), headers=PORTAL_HEADERS
            )
            assert response.is_success, response.text
        session = response.cookies.get("SeedonkSession")
        assert session
        # As a browser would send it back (the client itself only reads it).
        client.cookies.clear()
        client.cookies.set("SeedonkSession", session)
        devices = await client.get("/cxs/api/devices")
    assert devices.status_code == 200
    assert [item["alias"] for item in devices.json()["items"]] == [camera.alias]


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (portal_body(OWNER, PASSWORD), {"Content-Type": "application/json"}, 403),  # no AntiCSRF
        (portal_body(OWNER, "wrong password"), PORTAL_HEADERS, 401),
        ("username=alice&password=x", PORTAL_HEADERS, 400),
        ('{"username": 7, "password": "x"}', PORTAL_HEADERS, 400),
        ("\xff\xfe", PORTAL_HEADERS, 400),
    ],
)
async def test_bad_portal_logins_get_clear_errors(
    cloud: Cloud, body: str, headers: dict[str, str], expected: int
) -> None:
    async with http_client(cloud) as client:
        response = await client.post("/cxs/api/auth/login", content=body, headers=headers)
    assert response.status_code == expected, response.text
    assert "SeedonkSession" not in response.cookies
    assert response.json()["detail"]


# -- events ---------------------------------------------------------------------------------------


async def test_the_node_client_reads_events_newest_first(
    cloud: Cloud, token: str, camera: Any
) -> None:
    added = [await store(cloud).add_event(camera.id, "motion", {"args": [n]}) for n in range(3)]
    async with http_client(cloud) as client:
        events = await h_camera_events(client, bare(token))
    assert [event["id"] for event in events] == [str(event.id) for event in reversed(added)]
    for event in events:
        assert event["srcId"] == str(camera.id)
        assert event["status"] and homey_detections(event) == (0, 0)
        # JavaScript's Date.parse reads it: ISO 8601 with milliseconds and Z.
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["dttm"])
    assert datetime.fromisoformat(events[0]["dttm"]) >= datetime.fromisoformat(events[-1]["dttm"])


async def test_events_page_back_with_end_dttm(cloud: Cloud, token: str, camera: Any) -> None:
    added = {str((await store(cloud).add_event(camera.id, "motion", {})).id) for _ in range(7)}
    seen: list[str] = []
    end = None
    async with http_client(cloud) as client:
        for _ in range(10):  # bounded: 7 events in pages of 3
            page = await h_camera_events(client, bare(token), limit=3, end=end)
            if not page:
                break
            seen += [event["id"] for event in page]
            end = page[-1]["dttm"]
    # Events added within one millisecond share a dttm; a page ends before them, so compare sets
    # of what paging reached: nothing twice, and everything added up to the last page's time.
    assert len(seen) == len(set(seen))
    assert set(seen) <= added and len(seen) >= 3


async def test_events_are_the_viewers_only(cloud: Cloud, token: str, camera: Any) -> None:
    await store(cloud).add_account("bob", "bob's long password")
    bobs_camera = await store(cloud).upsert_camera(mac="00:11:22:33:44:55", owner="bob")
    await store(cloud).add_event(bobs_camera.id, "motion", {})
    mine = await store(cloud).add_event(camera.id, "motion", {})
    async with http_client(cloud) as client:
        events = await h_camera_events(client, bare(token))
    assert [event["id"] for event in events] == [str(mine.id)]


@pytest.mark.parametrize("end", ["yesterday", "2024-13-01T00:00:00Z", "9" * 20, "2024-05-01T25:00"])
async def test_an_unreadable_end_dttm_is_a_clear_400(cloud: Cloud, token: str, end: str) -> None:
    async with http_client(cloud) as client:
        response = await client.get(
            "/cxs/api/events",
            params={"v": "2", "limit": "20", "endDttm": end},
            headers={"Authorization": f"Bearer {bare(token)}"},
        )
    assert response.status_code == 400
    assert "endDttm" in response.json()["detail"]


async def test_an_event_thumbnail_or_a_clear_404(cloud: Cloud, token: str, camera: Any) -> None:
    without = await store(cloud).add_event(camera.id, "motion", {})
    with_picture = await store(cloud).add_event(camera.id, "motion", {})
    pictures = cloud.runtime.settings.data_dir / EVENT_PICTURES_DIR
    pictures.mkdir()
    picture = JPEG_START + b"a motion picture" + b"\xff\xd9"
    (pictures / f"{with_picture.id}.jpg").write_bytes(picture)
    async with http_client(cloud) as client:
        latest = (await h_camera_events(client, bare(token)))[0]["id"]
        response = await h_tend(
            client, bare(token), f"/events/{latest}/media/thumbnail", {"includeHidden": "true"}
        )
        assert response.headers["content-type"] == "image/jpeg"
        assert response.content == picture
        missing = await client.get(
            f"/cxs/api/events/{without.id}/media/thumbnail",
            headers={"Authorization": f"Bearer {bare(token)}"},
        )
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"event {without.id} has no thumbnail"


async def test_another_accounts_event_thumbnail_is_not_found(
    cloud: Cloud, token: str, camera: Any
) -> None:
    event = await store(cloud).add_event(camera.id, "motion", {})
    pictures = cloud.runtime.settings.data_dir / EVENT_PICTURES_DIR
    pictures.mkdir()
    (pictures / f"{event.id}.jpg").write_bytes(JPEG_START + b"alice's porch")
    await store(cloud).add_account("bob", "bob's long password")
    bobs_token = bare(await store(cloud).issue_token("bob"))
    async with http_client(cloud) as client:
        response = await client.get(
            f"/cxs/api/events/{event.id}/media/thumbnail",
            headers={"Authorization": f"Bearer {bobs_token}"},
        )
    assert response.status_code == 404


# -- the snapshot, end to end ---------------------------------------------------------------------


async def test_the_node_client_gets_a_fresh_snapshot(cloud: Cloud, token: str) -> None:
    """A simulated camera logs in through the front door and streams through the relay; the
    client asks for `recentImage.jpg?forceRefresh=true` with its headers and a Bearer token."""
    camera = cloud.camera(1)
    async with online(camera), http_client(cloud) as client:
        stored = await store(cloud).find_camera(mac=camera.mac)
        response = await h_tend(
            client,
            bare(token),
            f"/devices/{stored.id}/cam/recentImage.jpg",
            {"forceRefresh": "true", "size": "FHD"},
        )
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content.startswith(JPEG_START)
