"""Who the relay serves for an app's session, end to end: the real server in-process, a simulated
camera and app on loopback, SDNK viewers speaking R's and K's forms. Each app session's login
reply gives it its own unguessable alias, and only a REGISTER naming that alias joins the relay
session the broker allocated for it (docs/relay.md, "Who may watch")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from fakecloud.core.config import Settings
from fakecloud.net.sdnk import Register
from fakecloud.sim.app import SimulatedApp
from tests.interop.conftest import is_session_alias
from tests.media.test_viewer_e2e import OWNER, PASSWORD, WITHIN, Cloud, online, running_cloud
from tests.relay.peers import UdpPeer, k_viewer, r_viewer

Relay = tuple[str, int]


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WITHIN):
        while not condition():  # noqa: ASYNC110 - the relay's own counters, polled
            await asyncio.sleep(0.01)


async def register_as(relay: Relay, ids: tuple[str, str]) -> UdpPeer:
    """One REGISTER on channel 0 from the app's host, as a stale or guessing client sends it."""
    peer = await UdpPeer.bind("127.0.0.1")
    peer.send(Register(0, "V", peer.address, ids).encode(), relay)
    return peer


def relay_address(cloud: Cloud) -> Relay:
    return (cloud.runtime.settings.announce_address, cloud.runtime.services.relay.port)


async def logged_in(cloud: Cloud) -> SimulatedApp:
    app = SimulatedApp("127.0.0.1", cloud.cloud_port, login=OWNER, password=PASSWORD)
    await app.login()
    return app


async def test_only_the_sessions_own_alias_registers_its_viewer(settings: Settings) -> None:
    async with running_cloud(settings) as cloud, online(cloud.camera(7)):
        relay_part = cloud.runtime.services.relay
        app, other = await logged_in(cloud), await logged_in(cloud)
        try:
            account_alias = (await cloud.runtime.services.store.get_account(OWNER)).alias
            alias, other_alias = app.welcome["alias"], other.welcome["alias"]
            assert is_session_alias(alias, account_alias) and alias != other_alias
            [entry] = app.cameras
            camera_id = f"V_{entry.device_id}"
            await app.command(entry.destination, f"require-video-send|{alias}|8|")
            relay = relay_address(cloud)
            # The camera registers (its own id, fakecloud) once asked; a K-form REGISTER from
            # the camera's host is then a viewer's.
            await wait_for(lambda: relay_part.status()["cameras"] == 2)

            # The account alias (what the reply gave before), the login, another session's
            # alias, all from the app's host: none is this session's id.
            strangers = [
                await register_as(relay, (f"V_{wrong}", camera_id))
                for wrong in (account_alias, OWNER, other_alias)
            ]
            await wait_for(lambda: relay_part.status()["drops"].get("unknown_id") == 3)
            # K's form names no viewer: it cannot take a session whose app named its alias.
            strangers.append(await register_as(relay, (camera_id, camera_id)))
            await wait_for(lambda: relay_part.status()["drops"].get("viewer_host_mismatch") == 1)

            viewer = await r_viewer(relay, f"V_{alias}", camera_id)
            assert await viewer[0].media_count(5, WITHIN)
            # Only the session's own two sockets were taken; nothing went to the others.
            assert relay_part.status()["viewers"] == 2
            for stranger in strangers:
                assert not stranger.packets and not stranger.media
                stranger.close()
            for sock in viewer:
                sock.close()
        finally:
            await app.close()
            await other.close()


async def test_a_k_app_naming_no_alias_is_still_served_by_its_host(settings: Settings) -> None:
    async with running_cloud(settings) as cloud, online(cloud.camera(8)):
        app = await logged_in(cloud)
        try:
            [entry] = app.cameras
            # K names the camera id where R names its alias, and registers the camera id twice.
            await app.command(entry.destination, f"require-video-send|{entry.device_id}|9|")
            relay = relay_address(cloud)
            await wait_for(lambda: cloud.runtime.services.relay.status()["cameras"] == 2)
            viewer = await k_viewer(relay, f"V_{entry.device_id}")
            assert await viewer[0].media_count(5, WITHIN)
            for sock in viewer:
                sock.close()
        finally:
            await app.close()


@pytest.mark.parametrize("viewer_name", ["account alias", "login"])
async def test_without_session_aliases_the_account_alias_registers_as_before(
    settings: Settings, viewer_name: str
) -> None:
    async with running_cloud(settings, session_aliases=False) as cloud, online(cloud.camera(9)):
        app = await logged_in(cloud)
        try:
            account_alias = (await cloud.runtime.services.store.get_account(OWNER)).alias
            assert app.welcome["alias"] == account_alias
            [entry] = app.cameras
            await app.command(entry.destination, f"require-video-send|{account_alias}|8|")
            relay = relay_address(cloud)
            name = account_alias if viewer_name == "account alias" else OWNER
            viewer = await r_viewer(relay, f"V_{name}", f"V_{entry.device_id}")
            assert await viewer[0].media_count(5, WITHIN)
            for sock in viewer:
                sock.close()
        finally:
            await app.close()
