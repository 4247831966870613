"""Public Tend clients log in, list cameras over CXNet and REST, and keep their sessions, against
fakecloud as they would against the live Tend cloud (PROTOCOL.md section 9)."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from fakecloud.core.config import Settings
from tests.interop.clients import (
    Dialer,
    LoginFailed,
    Signalling,
    is_ip_literal,
    k_front_door,
)
from tests.interop.conftest import Cloud, interop_settings, is_session_alias, running_cloud
from tests.interop.wire import LOGIN_HOST, Action, k_login_frame, r_login_frame
from tests.media.test_viewer_e2e import online


async def test_r_logs_in_with_the_token_alone_after_one_redirect(cloud: Cloud) -> None:
    session = await cloud.r_login()
    await session.close()
    (host, port, redirect), (second_host, second_port, reply) = session.login.hops
    assert (host, port) == (LOGIN_HOST, cloud.cloud_port)
    assert redirect.action == reply.action == Action.LOGIN
    target = redirect.properties["1"]
    assert not is_ip_literal(target.rpartition(":")[0]), "Tend redirects to a name"
    assert f"{second_host}:{second_port}" == target
    assert is_session_alias(session.alias, await cloud.account_alias())


async def test_k_logs_in_verifying_the_certificate_for_the_login_host(cloud: Cloud) -> None:
    session = await cloud.k_login()
    await session.keepalive()
    echo = await session.link.wait_for(lambda f: f.action == Action.KEEPALIVE, 5)
    await session.close()
    (_, _, redirect), (broker, _, reply) = session.login.hops
    assert broker == redirect.properties["redirectHost"] and not is_ip_literal(broker)
    assert reply.properties["sid"] or reply.properties["session-id"]
    assert is_session_alias(session.alias, await cloud.account_alias())
    assert echo.action == Action.KEEPALIVE and echo.block == session.login.block


async def test_k_refuses_a_server_its_trust_store_does_not_vouch_for(cloud: Cloud) -> None:
    untrusting = Dialer(cloud.resolver(), ssl.create_default_context())  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        await k_front_door(untrusting, cloud.cloud_port, k_login_frame(cloud.token))


@pytest.mark.parametrize("style", ["R", "K"])
async def test_an_unknown_token_is_refused(cloud: Cloud, style: str) -> None:
    login = cloud.r_login if style == "R" else cloud.k_login
    with pytest.raises(LoginFailed) as refused:
        await login("not-a-token-fakecloud-issued")
    if refused.value.link is not None:
        await refused.value.link.close()


async def test_both_list_the_accounts_cameras_over_cxnet_and_rest(cloud: Cloud) -> None:
    account_alias = await cloud.account_alias()
    async with online(cloud.camera(0)) as camera:
        stored = await cloud.runtime.services.store.get_camera(camera.camera_id)
        for session in (await cloud.r_login(), await cloud.k_login()):
            (listed,) = session.cameras()
            await session.close()
            assert listed.destination == f"{camera.camera_id}:{camera.mac}"
            assert listed.alias == f"{account_alias}:{camera.mac}"
            assert (listed.aes_key, listed.mac, listed.online) == (stored.p2p_key, camera.mac, True)
        (rest,) = await cloud.api().list_cameras()
    assert (rest.id, rest.mac, rest.aes_key) == (str(camera.camera_id), camera.mac, stored.p2p_key)
    assert rest.alias == f"{account_alias}:{camera.mac}" and rest.serial_number
    assert rest.account_alias == account_alias


async def test_rest_without_the_token_lists_nothing(cloud: Cloud) -> None:
    async with online(cloud.camera(1)):
        api = cloud.api()
        api.token = "wrong"
        assert await api.list_cameras() == []


async def logins_at_once(login: object, count: int) -> list[Signalling]:
    sessions = await asyncio.gather(*(login() for _ in range(count)))  # type: ignore[operator]
    for session in sessions:
        await session.close()
    return sessions


@pytest.mark.parametrize("style", ["R", "K"])
async def test_two_clients_at_once_each_see_one_redirect_then_a_session(
    settings: Settings, style: str
) -> None:
    # K keeps its SNI and port, so only the broker's own address can tell its second hop.
    changes = {"broker_address": "127.0.0.2"} if style == "K" else {}
    async with running_cloud(interop_settings(settings, "127.0.0.1", **changes)) as cloud:
        login = cloud.r_login if style == "R" else cloud.k_login
        sessions = await logins_at_once(login, 2)
        assert [session.login.redirects for session in sessions] == [1, 1]
        alias = await cloud.account_alias()
        assert all(is_session_alias(session.alias, alias) for session in sessions)
        assert sessions[0].alias != sessions[1].alias  # each session its own


@pytest.mark.parametrize("style", ["R", "K"])
async def test_a_client_that_never_came_back_changes_nothing_for_the_next(
    cloud: Cloud, style: str
) -> None:
    if style == "R":
        # R's first hop, then it gives up: connect, log in, read the redirect, hang up.
        dialer = cloud.r_dialer()
        link = await dialer.open(LOGIN_HOST, cloud.cloud_port)
        await link.send(r_login_frame(cloud.token))
        assert "1" in (await link.next(5)).properties
        await link.close()
    else:
        await k_front_door(cloud.k_dialer(), cloud.cloud_port, k_login_frame(cloud.token))
    session = await (cloud.r_login() if style == "R" else cloud.k_login())
    await session.close()
    assert session.login.redirects == 1
