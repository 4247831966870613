"""`/api/doctor` in-process: strangers are refused; an owner gets the report, its camera seen."""

from __future__ import annotations

import httpx

from tests.media.test_viewer_e2e import OWNER, PASSWORD, online
from tests.web.conftest import Cloud


async def test_only_owners_and_trusted_clients_get_the_report(cloud: Cloud) -> None:
    async with online(cloud.camera(0)), httpx.AsyncClient(timeout=30) as client:
        stranger = await client.get(cloud.url("/api/doctor"))
        owner = await client.get(cloud.url("/api/doctor"), auth=(OWNER, PASSWORD))
    assert stranger.status_code == 401
    report = owner.json()
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["server"]["status"] == "ok"
    assert (
        checks["camera logins"]["status"] == "ok"
        and "1 camera(s) online" in checks["camera logins"]["what"]
    )
    assert set(report["counts"]) == {"ok", "warn", "fail", "skip"}
