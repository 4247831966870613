"""The ONVIF port over real HTTP: SOAP content type, faults as HTTP 400/500, body limits."""

from __future__ import annotations

import httpx

from fakecloud.onvif.soap import MAX_REQUEST_BYTES
from tests.onvif.conftest import Onvif
from tests.onvif.requests import request

SOAP = {"Content-Type": "application/soap+xml; charset=utf-8"}


def url(onvif: Onvif, service: str = "device_service") -> str:
    return f"http://127.0.0.1:{onvif.port}/onvif/{service}"


async def test_soap_over_http(onvif: Onvif) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        clock = await http.post(
            url(onvif), content=request("device", "GetSystemDateAndTime"), headers=SOAP
        )
        assert clock.status_code == 200
        assert clock.headers["content-type"].startswith("application/soap+xml")
        refused = await http.post(
            url(onvif, "media_service"), content=request("media", "GetProfiles"), headers=SOAP
        )
        assert refused.status_code == 400 and b"ter:NotAuthorized" in refused.content
        broken = await http.post(url(onvif), content=b"<oops", headers=SOAP)
        assert broken.status_code == 400 and b"ter:WellFormed" in broken.content


async def test_limits_and_unknown_paths(onvif: Onvif) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        large = await http.post(url(onvif), content=b" " * (MAX_REQUEST_BYTES + 1), headers=SOAP)
        assert large.status_code == 413

        async def chunks():  # type: ignore[no-untyped-def]
            yield b"<a/>"

        chunked = await http.post(url(onvif), content=chunks(), headers=SOAP)
        assert chunked.status_code == 411
        assert (await http.get(url(onvif))).status_code == 405
        assert (await http.post(url(onvif, "ptz_service"), content=b"")).status_code == 404
