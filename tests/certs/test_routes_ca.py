"""CA downloads over the web app."""

from __future__ import annotations

import plistlib

import httpx
import pytest
from cryptography import x509
from fastapi import FastAPI

from fakecloud.catalogue import load_catalogue
from fakecloud.certs import CertificateAuthority
from fakecloud.core.config import Settings
from fakecloud.runtime import Runtime
from fakecloud.web import routes_ca


def _client(settings: Settings, authority: CertificateAuthority | None) -> httpx.AsyncClient:
    app = FastAPI()
    app.state.runtime = Runtime(settings, load_catalogue())
    if authority is not None:
        app.state.runtime.services.authority = authority
    app.include_router(routes_ca.router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fakecloud")


async def test_downloads(settings: Settings, shared_authority: CertificateAuthority) -> None:
    async with _client(settings, shared_authority) as client:
        pem = await client.get("/ca.pem")
        der = await client.get("/ca.der")
        profile = await client.get("/ca.mobileconfig")
    assert pem.status_code == der.status_code == profile.status_code == 200
    assert pem.headers["content-type"] == "application/x-pem-file"
    assert pem.content == shared_authority.ca_pem_path.read_bytes()
    assert der.headers["content-type"] == "application/x-x509-ca-cert"
    assert x509.load_der_x509_certificate(der.content) == shared_authority.ca_certificate
    assert profile.headers["content-type"] == "application/x-apple-aspen-config"
    assert plistlib.loads(profile.content)["PayloadType"] == "Configuration"
    assert 'filename="fakecloud-ca.mobileconfig"' in profile.headers["content-disposition"]


@pytest.mark.parametrize("path", ["/ca.pem", "/ca.der", "/ca.mobileconfig"])
async def test_without_authority_is_a_clear_404(settings: Settings, path: str) -> None:
    async with _client(settings, None) as client:
        response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "no certificate authority is configured on this server"}
