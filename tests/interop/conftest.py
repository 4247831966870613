"""fakecloud in-process with everything a public client touches: the DNS shim, TLS on the cloud
port, the relay, REST through the front door, an account with an access token and simulated
cameras logging in with the account's credentials. Nothing of ours is mocked."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakecloud.core.config import Settings
from fakecloud.runtime import Runtime
from fakecloud.server import build_runtime, close_services, start_parts, stop_parts
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.demo import simulated_mac
from tests.conftest import free_port
from tests.interop.clients import (
    REST_HOST,
    Dialer,
    Resolve,
    Signalling,
    TendApi,
    dns_resolver,
    k_login,
    k_tls_context,
    lookup_resolver,
    r_login,
    r_tls_context,
)
from tests.interop.wire import LOGIN_HOST, TOKEN_PREFIX

OWNER = "alice"
PASSWORD = "correct horse battery"
WITHIN = 20.0  # bound on every wait
# The names the public clients dial: the login host and R's REST host.
TEND_HOSTNAMES = [LOGIN_HOST, REST_HOST]


@dataclass
class Cloud:
    runtime: Runtime
    address: str
    cloud_port: int
    dns_port: int
    token: str  # bare, as the clients hold their JWT

    @property
    def ca_file(self) -> Path:
        return self.runtime.settings.certs_dir / "ca.pem"

    def resolver(self) -> Resolve:
        return dns_resolver(self.address, self.dns_port)

    def r_dialer(self) -> Dialer:
        return Dialer(lookup_resolver(self.resolver()), r_tls_context())

    def k_dialer(self) -> Dialer:
        return Dialer(self.resolver(), k_tls_context(self.ca_file))

    async def r_login(self, token: str | None = None) -> Signalling:
        login = await r_login(self.r_dialer(), LOGIN_HOST, self.cloud_port, token or self.token)
        return Signalling("R", login)

    async def k_login(self, token: str | None = None) -> Signalling:
        return Signalling("K", await k_login(self.k_dialer(), self.cloud_port, token or self.token))

    def api(self) -> TendApi:
        return TendApi(self.token, self.address, self.cloud_port, k_tls_context(self.ca_file))

    def camera(self, index: int, **options: Any) -> SimulatedCamera:
        return SimulatedCamera(
            self.address, self.cloud_port, login=OWNER, password=PASSWORD,
            mac=simulated_mac(index), first_backoff=0.05, max_backoff=0.2, **options,
        )  # fmt: skip

    async def account_alias(self) -> str:
        account = await self.runtime.services.store.get_account(OWNER)
        return str(account.alias)


def is_session_alias(alias: str, account_alias: str) -> bool:
    """The login reply's `alias` is this session's own: the account alias, then at least 16
    random letters and digits (over 80 bits), and `V_<alias>` fits a 32-byte SDNK id whole."""
    own = re.fullmatch(rf"{re.escape(account_alias)}-[a-z0-9]{{16,}}", alias)
    return own is not None and len(f"V_{alias}") <= 32


def interop_settings(settings: Settings, address: str, **changes: Any) -> Settings:
    return settings.model_copy(
        update={
            "bind_address": address,
            "announce_address": address,
            "cloud_ports": [0],  # the login port; R's second hop comes to broker_port
            "broker_port": free_port(host=address),
            "extra_hostnames": TEND_HOSTNAMES,
            "trusted_networks": [],  # REST must see the Bearer token, even from loopback
            "dns_upstreams": [f"{address}:9"],  # nothing is forwarded off this machine
            **changes,
        }
    )


@contextlib.asynccontextmanager
async def running_cloud(settings: Settings) -> AsyncIterator[Cloud]:
    runtime = build_runtime(settings)
    await start_parts(runtime)
    try:
        store = runtime.services.store
        await store.add_account(OWNER, PASSWORD)
        issued = await store.issue_token(OWNER)
        frontdoor, dns = runtime.part("frontdoor"), runtime.part("dns")
        assert frontdoor is not None and dns is not None
        cloud_port = frontdoor.bound_ports[settings.cloud_ports[0]]  # type: ignore[attr-defined]
        yield Cloud(
            runtime, settings.bind_address, cloud_port, dns.port,  # type: ignore[attr-defined]
            issued.removeprefix(TOKEN_PREFIX),
        )  # fmt: skip
    finally:
        await stop_parts(runtime)
        await close_services(runtime)


@pytest.fixture
async def cloud(settings: Settings) -> AsyncIterator[Cloud]:
    async with running_cloud(interop_settings(settings, "127.0.0.1")) as running:
        yield running
