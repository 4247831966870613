"""The login flow end to end: redirects, tokens, refusals and the login policies."""

from __future__ import annotations

import asyncio

import pytest

from fakecloud.core.events import RefusedLogin
from fakecloud.net.cxnet import Action
from fakecloud.sim.camera import LoginRefused, SimulatedCamera
from tests.broker.conftest import (
    MAC,
    OTHER,
    OTHER_PASSWORD,
    OWNER,
    BrokerServer,
    camera_for,
)
from tests.broker.tend_clients import KClient, RClient
from tests.interop.conftest import is_session_alias


@pytest.mark.parametrize("client_class", [RClient, KClient])
async def test_tend_clients_log_in_following_the_redirect(
    served: BrokerServer, online_camera: SimulatedCamera, client_class: type[RClient]
) -> None:
    client = client_class("127.0.0.1", served.port, OWNER, await served.store.issue_token(OWNER))
    reply = await client.log_in()
    await client.close()
    assert reply.action == Action.LOGIN and client.redirected
    welcome = client.welcome
    assert welcome["sid"] == welcome["session-id"] == client.block.hex()
    assert welcome["p2p-host"] == f"127.0.0.1:{served.broker.settings.relay_port}:" + str(
        served.broker.settings.relay_port
    )
    (line,) = welcome["device-info-list"].splitlines()
    stored = await served.store.find_camera(mac=MAC)
    assert line == (
        f"{stored.id}:{MAC},MAC={MAC}+AES={stored.p2p_key}+LIP=127.0.0.1+LPORT=9490"
        "+PWR_SLEEP_MODE=NONE"
    )
    (self_line,) = welcome["self-list"].splitlines()
    owner = await served.store.get_account(OWNER)
    assert self_line.split(",")[0] == f"{stored.id}:{MAC}"
    # The Belkin record's form: `<owner's account alias>:<MAC>` (oc9:EC:1A:59:5D:C5:DC).
    assert self_line.split(",")[5] == stored.alias == f"{owner.alias}:{MAC}"
    assert is_session_alias(welcome["alias"], owner.alias)  # this session's own alias


async def test_access_token_logs_in_like_a_password(served: BrokerServer) -> None:
    token = await served.store.issue_token(OWNER)
    client = KClient("127.0.0.1", served.port, OWNER, token)
    reply = await client.log_in()
    await client.close()
    owner = await served.store.get_account(OWNER)
    assert reply.action == Action.LOGIN and is_session_alias(client.welcome["alias"], owner.alias)


async def test_redirect_can_be_disabled(served: BrokerServer) -> None:
    served.broker.settings = served.broker.settings.model_copy(
        update={"redirect_app_logins": False}
    )
    client = RClient("127.0.0.1", served.port, OWNER, await served.store.issue_token(OWNER))
    reply = await client.log_in()
    await client.close()
    assert reply.action == Action.LOGIN and not client.redirected


@pytest.mark.parametrize(("login", "secret"), [(OWNER, "wrong password"), ("nobody", "x" * 12)])
async def test_bad_credentials_get_one_identical_error(
    served: BrokerServer, login: str, secret: str
) -> None:
    refusals = served.broker.bus.subscribe("test", RefusedLogin)
    client = RClient("127.0.0.1", served.port, login, secret)
    reply = await client.log_in()
    assert reply.action == Action.ERROR
    refused = await asyncio.wait_for(refusals.get(), 5)
    assert isinstance(refused, RefusedLogin)
    assert (refused.role, refused.address) == ("app", "127.0.0.1") and refused.reason
    assert secret not in refused.reason
    assert reply.properties.as_dict() == {"error": "login-failed", "reason": "login refused"}
    assert client._reader is not None and await client._reader.read() == b""  # closed
    await client.close()
    assert served.broker.status()["logins_failed"] == 1


async def test_learning_policy_accepts_and_records_an_unknown_camera_login(
    served: BrokerServer,
) -> None:
    camera = camera_for(served, login=None, password=None, mac="00:AA:BB:CC:DD:EE")
    task = asyncio.create_task(camera.run())
    await asyncio.wait_for(camera.logged_in.wait(), 5)
    stored = await served.store.find_camera(mac="00:AA:BB:CC:DD:EE")
    assert stored.online and stored.owner is None and stored.pending, "pending until approved"
    (login,) = served.recorder.of_kind("login")
    assert login["known_form"] is False and login["decoded"]["mac"] == "00:AA:BB:CC:DD:EE"
    assert login["data"], "the raw login is kept when it carries no secret"
    assert "p2p-key" not in camera.welcome, "the media key goes to the owner's cameras only"
    camera.stop()
    await task


async def test_strict_policy_refuses_an_unknown_login_form(served: BrokerServer) -> None:
    served.broker.settings = served.broker.settings.model_copy(update={"login_policy": "strict"})
    camera = camera_for(served, login=None, password=None)
    with pytest.raises(LoginRefused):
        await asyncio.wait_for(camera.run(), 5)
    assert await served.store.find_camera(mac=MAC) is None


async def test_camera_of_another_account_is_refused(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    thief = camera_for(served, login=OTHER, password=OTHER_PASSWORD)
    with pytest.raises(LoginRefused):
        await asyncio.wait_for(thief.run(), 5)
    assert (await served.store.find_camera(mac=MAC)).owner == OWNER
