"""The setup-mode simulator over real HTTP: Basic auth, limits and its pages."""

from __future__ import annotations

import httpx

from fakecloud.sim.setup_mode import MAX_FORM_BYTES, SetupModeCamera, setup_mode_server
from tests.onboard.conftest import HOME, WIFI_PASSWORD


async def test_pages_need_basic_admin_admin_and_bodies_are_bounded() -> None:
    camera = SetupModeCamera({HOME.ssid: (HOME, WIFI_PASSWORD)}, resolver=None, pending_polls=0)
    server = setup_mode_server(camera)
    await server.start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as anonymous:
            refused = await anonymous.post("/goform/getApSitesInfo")
            assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]
            wrong = await anonymous.post("/goform/getApSitesInfo", auth=("admin", "x"))
            assert wrong.status_code == 401
        async with httpx.AsyncClient(base_url=url, auth=("admin", "admin"), timeout=5) as client:
            assert "SSID:Home net" in (await client.post("/goform/getApSitesInfo")).text
            # Not joined yet, then joined but with no DNS on the network.
            assert (await client.post("/goform/verifyApcliMode")).text == "fail to get ip"
            form = {"apcli_ssid": HOME.ssid, "apcli_wpapsk": WIFI_PASSWORD}
            assert (await client.post("/goform/wirelessAplist", data=form)).text == "success"
            assert (await client.post("/goform/verifyApcliMode")).text == "fail to dns"
            assert (await client.post("/goform/camRegister")).text == "3"  # no owner yet
            big = await client.post("/goform/login", content=b"x" * (MAX_FORM_BYTES + 1))
            assert big.status_code == 413
            page = await client.get("/apcam/for-android/CamPreview.asp?SeedonkServerIp=10.0.0.5")
            assert "setServerIpAndLanguageId" in page.text
    finally:
        await server.stop()
    assert camera.server_host == "10.0.0.5"
