"""The Host check: fakecloud answers only for its own names and addresses (DNS rebinding)."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.web.hosts import AllowedHosts, BadHostError, HostCheck, host_of
from tests.media.test_viewer_e2e import OWNER
from tests.web.conftest import Cloud, tls_context
from tests.web.test_routes_cxs import MAC, store

REBINDING_HOST = "attacker.example"


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("netcam.belkin.com", "netcam.belkin.com"),
        ("NetCam.Belkin.COM.:443", "netcam.belkin.com"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("[fe80::1%eth0]", "fe80::1"),
        ("::1", "::1"),
        ("localhost", "localhost"),
    ],
)
def test_host_of_strips_port_case_and_trailing_dot(header: str, host: str) -> None:
    assert host_of(header) == host


@pytest.mark.parametrize(
    "header", ["", " ", "a..b", ".", "host:port", "[::1", "[::1]x", "[nope]", "é.example"]
)
def test_malformed_hosts_are_refused(header: str) -> None:
    with pytest.raises(BadHostError):
        host_of(header)


@given(st.text(max_size=300))
def test_host_of_never_fails_otherwise(header: str) -> None:
    try:
        host = host_of(header)
    except BadHostError:
        return
    assert host == host.lower() and host.isascii() and not host.endswith(".")


def _policy(settings: Settings, **update: Any) -> AllowedHosts:
    return AllowedHosts.for_settings(settings.model_copy(update=update), load_catalogue())


def test_the_policy_allows_our_names_and_any_address(settings: Settings) -> None:
    allowed = _policy(
        settings,
        extra_hostnames=["cam.example.org", "*.lab.example"],
        allowed_hosts=["proxy.example.net"],
        broker_hostname="broker.example.com",
    )
    for host in (
        "netcam.belkin.com",  # a catalogue name
        "new.api.xbcs.net",  # a vendor's domain: unknown camera traffic is still captured
        "cam.example.org",
        "x.lab.example",
        "proxy.example.net",
        "broker.example.com",
        "localhost",
        socket.gethostname().lower(),
        "127.0.0.1",
        "192.168.1.20",
        "::1",
    ):
        assert allowed.allows(host), host
    for host in (REBINDING_HOST, "lab.example", "netcam.belkin.com.attacker.example"):
        assert not allowed.allows(host), host


def test_the_refusal_is_one_clear_line(settings: Settings) -> None:
    check = HostCheck(app=None, allowed=_policy(settings), settings=settings)
    assert check.refusal(None) is None
    assert check.refusal("netcam.belkin.com") is None
    status, line = check.refusal(REBINDING_HOST) or (0, "")
    assert status == 421 and REBINDING_HOST in line and "FAKECLOUD_ALLOWED_HOSTS" in line
    assert (check.refusal("a..b") or (0, ""))[0] == 400


async def test_a_rebinding_page_gets_no_camera_data(cloud: Cloud) -> None:
    """The same request that serves the camera from our names is refused under a foreign Host,
    on the HTTP port and behind the TLS front door."""
    token = await store(cloud).issue_token(OWNER)
    camera = await store(cloud).upsert_camera(mac=MAC, owner=OWNER, name="Porch")
    path = f"/cxs/api/devices/{camera.id}"
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        ours = await client.get(path, headers=auth)
        foreign = await client.get(path, headers={**auth, "Host": f"{REBINDING_HOST}:80"})
        health = await client.get("/healthz", headers={"Host": REBINDING_HOST})
    assert ours.status_code == 200 and ours.json()["id"] == str(camera.id)
    assert foreign.status_code == 421
    assert REBINDING_HOST in foreign.text and "Porch" not in foreign.text
    assert health.status_code == 200  # probes send any Host; the answer is a constant

    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{cloud.cloud_port}", verify=tls_context(cloud), timeout=10
    ) as client:
        portal = await client.get(path, headers={**auth, "Host": "netcam.belkin.com"})
        foreign = await client.get(path, headers={**auth, "Host": REBINDING_HOST})
    assert portal.status_code == 200
    assert foreign.status_code == 421


def test_allowed_hosts_admits_a_reverse_proxy_name(settings: Settings) -> None:
    allowed = _policy(settings, allowed_hosts=["cams.home.example"])
    assert allowed.allows("cams.home.example")
    assert not _policy(settings).allows("cams.home.example")
