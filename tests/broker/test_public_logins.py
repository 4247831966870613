"""Logins as the public Tend clients make them (tests/interop's R and K clients): real TLS with
fakecloud's CA, the real DNS shim, the real front door and broker. One address, or two
(127.0.0.1 for logins and 127.0.0.2 as broker_address)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakecloud.broker import Broker
from fakecloud.capture.log import CaptureLog
from fakecloud.catalogue import load_catalogue
from fakecloud.certs import ensure_authority
from fakecloud.core.config import Settings
from fakecloud.dns.part import DnsPart
from fakecloud.frontdoor.part import FrontDoorPart
from fakecloud.store import AsyncStore, Store
from tests.broker.conftest import OTHER, OWNER, OWNER_PASSWORD
from tests.conftest import free_port
from tests.interop.clients import (
    CxLink,
    Dialer,
    LoginFailed,
    Resolve,
    TendLogin,
    dns_resolver,
    k_front_door,
    k_login,
    k_tls_context,
    lookup_resolver,
    r_login,
    r_tls_context,
)
from tests.interop.conftest import is_session_alias
from tests.interop.wire import (
    LOGIN_HOST,
    TOKEN_PREFIX,
    ZERO_BLOCK,
    Action,
    CxFrame,
    cx_passwd,
    k_login_frame,
    pack,
    r_login_frame,
    r_properties,
)

BROKER_HOST = "broker.seedonk.com"
SECOND_ADDRESS = "127.0.0.2"
REPLY_TIMEOUT = 5.0


@dataclass
class Cloud:
    settings: Settings
    broker: Broker
    store: AsyncStore
    cloud_port: int
    resolve: Resolve  # K's DNS-only resolve4, through the shim
    ca_file: Path
    token: str

    @property
    def broker_port(self) -> int:
        return self.settings.broker_port

    def capture_text(self) -> str:
        return "".join(path.read_text() for path in sorted(self.settings.captures_dir.glob("*")))

    def captured(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.capture_text().splitlines()]

    def r_dialer(self, sni: str = LOGIN_HOST) -> Dialer:
        """R: literals as they are, names through the shim; TLS unverified, `sni` on every hop."""
        return Dialer(lookup_resolver(self.resolve), r_tls_context(), sni=sni)

    def k_dialer(self) -> Dialer:
        return Dialer(self.resolve, k_tls_context(self.ca_file))

    async def r(self, token: str | None = None, host: str = LOGIN_HOST, port: int = 0) -> TendLogin:
        return await r_login(self.r_dialer(), host, port or self.cloud_port, token or self.token)

    async def k(self, token: str | None = None) -> TendLogin:
        return await k_login(self.k_dialer(), self.cloud_port, token or self.token)


async def exchange(link: CxLink, packet: bytes) -> CxFrame:
    """One frame sent by hand on `link`, its first reply read, the link closed."""
    try:
        await link.send(packet)
        return await link.next(REPLY_TIMEOUT)
    finally:
        await link.close()


@contextlib.asynccontextmanager
async def running(settings: Settings, addresses: tuple[str, ...]) -> AsyncIterator[Cloud]:
    store = AsyncStore(Store(settings.database_path))
    await store.add_account(OWNER, OWNER_PASSWORD)
    await store.add_account(OTHER, OWNER_PASSWORD)
    token = (await store.issue_token(OWNER)).removeprefix(TOKEN_PREFIX)
    capture = CaptureLog(settings.captures_dir, settings.capture_max_bytes)
    authority = ensure_authority(settings)
    dns = DnsPart(settings, load_catalogue(settings.extra_hostnames), capture, upstreams=[])
    broker = Broker(settings, store, capture)
    doors: list[FrontDoorPart] = []
    try:
        await dns.start()
        await broker.start()
        cloud_port = 0
        for address in addresses:  # one door per address, on the same ports
            door = FrontDoorPart(
                address,
                [cloud_port, settings.broker_port],
                tls_context=authority.server_context("device"),
                cxnet_handler=broker.handle_connection,
                asgi=None,
                recorder=capture,
            )
            await door.start()
            doors.append(door)
            cloud_port = door.bound_ports[cloud_port]
        assert dns.port is not None
        yield Cloud(
            settings, broker, store, cloud_port, dns_resolver("127.0.0.1", dns.port),
            authority.ca_pem_path, token,
        )  # fmt: skip
    finally:
        for door in doors:
            await door.stop()
        await broker.stop()
        await dns.stop()
        capture.close()
        await store.close()


def cloud_settings(settings: Settings, *, own_address: bool, **changes: Any) -> Settings:
    return Settings(
        **settings.model_dump(exclude={"extra_hostnames", "broker_port", "broker_address"}),
        extra_hostnames=[LOGIN_HOST],
        broker_port=free_port(),
        broker_address=SECOND_ADDRESS if own_address else None,
        **changes,
    )


@pytest.fixture(params=[False, True], ids=["one-address", "two-addresses"])
async def cloud(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Cloud]:
    own = bool(request.param)
    addresses = ("127.0.0.1", SECOND_ADDRESS) if own else ("127.0.0.1",)
    async with running(cloud_settings(settings, own_address=own), addresses) as started:
        yield started


@pytest.fixture
async def two_address_cloud(settings: Settings) -> AsyncIterator[Cloud]:
    addresses = ("127.0.0.1", SECOND_ADDRESS)
    async with running(cloud_settings(settings, own_address=True), addresses) as started:
        yield started


def assert_one_redirect_by_name(redirects: list[dict[str, str]], port: int) -> None:
    (redirect,) = redirects
    assert redirect == {"redirectHost": BROKER_HOST, "1": f"{BROKER_HOST}:{port}"}


async def test_r_logs_in_with_its_token_alone_and_follows_host_and_port(cloud: Cloud) -> None:
    result = await cloud.r()
    await result.link.close()
    assert_one_redirect_by_name(result.redirect_replies, cloud.broker_port)
    owner = await cloud.store.get_account(OWNER)
    welcome = result.welcome
    assert is_session_alias(welcome["alias"], owner.alias)
    assert welcome["sid"] == result.block.hex()
    assert cloud.broker.status()["logins_ok"] == 1


async def test_k_verifies_the_certificate_and_resolves_the_broker_through_the_shim(
    cloud: Cloud,
) -> None:
    expected = cloud.settings.effective_broker_address
    assert await cloud.resolve(BROKER_HOST) == [expected]
    result = await cloud.k()
    await result.link.close()
    assert_one_redirect_by_name(result.redirect_replies, cloud.broker_port)
    assert result.link.address == expected
    owner = await cloud.store.get_account(OWNER)
    assert is_session_alias(result.welcome["alias"], owner.alias)
    assert result.welcome["session-id"] == result.block.hex()


async def test_k_and_r_fail_as_they_would_against_a_bad_redirect(settings: Settings) -> None:
    """A K client cannot use an IP literal; fakecloud names a host, so it only gets one when it
    gave no name (TLS without SNI, as below)."""
    async with running(cloud_settings(settings, own_address=False), ("127.0.0.1",)) as cloud:
        # An address as the host and no SNI.
        link = await cloud.r_dialer(sni="").open("127.0.0.1", cloud.cloud_port)
        properties = (await exchange(link, r_login_frame(cloud.token))).properties
        assert properties["redirectHost"] == "127.0.0.1"
        with pytest.raises(LoginFailed, match="is an IP literal"):
            await cloud.resolve(properties["redirectHost"])


@pytest.mark.parametrize("style", ["r", "k"])
async def test_two_clients_of_one_account_at_the_same_moment_get_one_redirect_each(
    cloud: Cloud, style: str
) -> None:
    login = cloud.r if style == "r" else cloud.k
    results = await asyncio.gather(login(), login())
    for result in results:
        await result.link.close()
        assert_one_redirect_by_name(result.redirect_replies, cloud.broker_port)
        assert result.welcome["sid"]
    assert results[0].block != results[1].block
    assert cloud.broker.status()["redirects"] == 2


async def test_an_abandoned_redirect_does_not_change_what_the_next_client_gets(
    two_address_cloud: Cloud,
) -> None:
    cloud = two_address_cloud
    host, abandoned = await k_front_door(
        cloud.k_dialer(), cloud.cloud_port, k_login_frame(cloud.token)
    )
    assert host == abandoned.properties["redirectHost"] == BROKER_HOST
    for login in (cloud.k, cloud.r, cloud.k):
        result = await login()
        await result.link.close()
        assert_one_redirect_by_name(result.redirect_replies, cloud.broker_port)


async def test_an_abandoned_redirect_leaves_k_and_r_working_on_any_address(cloud: Cloud) -> None:
    """On one address the fallback memory cannot tell a new K login from a return: what it
    answers must read right as K reads it (a name on the first hop, a session on the next)."""
    host, abandoned = await k_front_door(
        cloud.k_dialer(), cloud.cloud_port, k_login_frame(cloud.token)
    )
    assert host == abandoned.properties["redirectHost"] == BROKER_HOST
    assert "sid" not in abandoned.properties  # a first login gets a redirect and nothing else
    first_hops = []
    for _ in range(2):
        k = await cloud.k()
        await k.link.close()
        (first_hop,) = k.redirect_replies
        assert first_hop["redirectHost"] == BROKER_HOST and k.welcome["sid"] == k.block.hex()
        first_hops.append(first_hop)
    if not cloud.settings.broker_has_own_address:
        # The second K came while a redirect was remembered: the unsure answer, a session
        # that also names the broker (and no `1=`, which R would follow).
        assert "sid" in first_hops[1] and "1" not in first_hops[1]
    r = await cloud.r()  # R returns on the broker port: one clean redirect, then a session
    await r.link.close()
    assert_one_redirect_by_name(r.redirect_replies, cloud.broker_port)


async def test_a_login_on_the_broker_name_or_port_is_never_redirected(cloud: Cloud) -> None:
    result = await cloud.r(host=BROKER_HOST, port=cloud.broker_port)
    await result.link.close()
    assert not result.redirect_replies and result.redirects == 0 and result.welcome["sid"]
    # SNI naming the broker host, on the login port and the login address.
    for _ in range(2):
        link = await cloud.r_dialer(sni=BROKER_HOST).open("127.0.0.1", cloud.cloud_port)
        reply = await exchange(link, r_login_frame(cloud.token))
        assert reply.action == Action.LOGIN and reply.properties["sid"] == reply.block.hex()
    assert cloud.broker.status()["redirects"] == 0


async def test_token_logins_that_are_refused_are_captured_without_the_secret(
    two_address_cloud: Cloud,
) -> None:
    cloud = two_address_cloud
    wrong = "x" * 43
    for attempt in (cloud.k(wrong), cloud.r(wrong)):
        with pytest.raises(LoginFailed) as failed:
            await attempt
        if failed.value.link is not None:  # R keeps the link after an error reply
            await failed.value.link.close()
    # A right token with another account's login in CX_UNAME is refused as well.
    link = await cloud.r_dialer(sni=BROKER_HOST).open(SECOND_ADDRESS, cloud.cloud_port)
    reply = await exchange(link, r_login_frame(cloud.token, login=OTHER))
    assert (reply.action, reply.properties["error"]) == (Action.ERROR, "login-failed")
    refused = [record for record in cloud.captured() if record.get("refused")]
    reasons = [record["refused"] for record in refused]
    assert reasons == ["unknown token", "unknown token", "token not valid for this login"]
    assert {record["credential"] for record in refused} == {"token"}
    assert refused[-1]["decoded"]["CX_UNAME"] == OTHER
    text = cloud.capture_text()
    assert wrong not in text and cloud.token not in text and "CX_PASSWD" not in text
    assert cloud.broker.status()["logins_failed"] == 3


async def test_plain_frames_on_the_broker_port_are_second_hops_too(cloud: Cloud) -> None:
    plain = Dialer(lookup_resolver(), tls=None)
    link = await plain.open("127.0.0.1", cloud.broker_port)
    reply = await exchange(link, r_login_frame(cloud.token))
    assert reply.action == Action.LOGIN and reply.properties["sid"] == reply.block.hex()
    # Plain CXNet cannot say whether the client used a name: it is sent to the name too.
    link = await plain.open("127.0.0.1", cloud.cloud_port)
    options = r_properties({"CX_UNAME": "", "CX_PASSWD": cx_passwd(cloud.token)})
    redirect = await exchange(link, pack(1, Action.LOGIN, 2, ZERO_BLOCK, options, b""))
    assert_one_redirect_by_name([redirect.properties.as_dict()], cloud.broker_port)
