"""The broker end to end: real sockets, real store, R- and K-style clients, simulated cameras."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.broker import Broker, CameraOfflineError, Session, parse_destination
from fakecloud.core.events import CameraOffline, CameraOnline, CommandRouted, Motion, RefusedLogin
from fakecloud.net.commands import Command
from fakecloud.net.cxnet import Action, Frame, encode_frame
from fakecloud.net.properties import encode_properties, parse_properties
from fakecloud.sim.app import SimulatedApp
from fakecloud.sim.camera import LoginRefused, SimulatedCamera
from tests.broker.conftest import (
    OTHER,
    OTHER_PASSWORD,
    OWNER,
    OWNER_PASSWORD,
    BrokerServer,
    wait_until,
)
from tests.broker.tend_clients import KClient, RClient, pack, read_reply
from tests.interop.conftest import is_session_alias

MAC = "00:11:22:33:44:55"


def camera_for(served: BrokerServer, mac: str = MAC, **options: Any) -> SimulatedCamera:
    settings = {"login": OWNER, "password": OWNER_PASSWORD, "first_backoff": 0.05}
    return SimulatedCamera("127.0.0.1", served.port, mac=mac, **(settings | options))


@pytest.fixture
async def online_camera(served: BrokerServer) -> AsyncIterator[SimulatedCamera]:
    camera = camera_for(served)
    task = asyncio.create_task(camera.run())
    async with asyncio.timeout(5):
        await camera.logged_in.wait()
    yield camera
    camera.stop()
    await task


async def test_camera_login_marks_it_online_in_the_store(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    stored = await served.store.find_camera(mac=MAC)
    assert stored.online and stored.owner == OWNER and stored.last_ip == "127.0.0.1"
    assert stored.firmware == "2.4.8.5-sim"
    assert online_camera.welcome["p2p-key"] == stored.p2p_key  # our hypothesis (docs/viewer.md)
    assert online_camera.camera_id == stored.id
    assert served.broker.online_camera_ids() == [stored.id]
    assert served.broker.status()["cameras_online"] == 1
    assert served.recorder.of_kind("login"), "camera logins are recorded while the form is [U]"
    assert "correct horse" not in repr(served.recorder.events)


async def test_closed_connection_marks_camera_offline_at_once(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    camera_id = online_camera.camera_id
    online_camera.stop()
    await online_camera.disconnected.wait()

    async def offline() -> bool:
        return not (await served.store.get_camera(camera_id)).online

    await wait_until(offline, within=2)
    assert served.broker.online_camera_ids() == []


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


async def test_commands_are_routed_both_ways(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    routed = served.broker.bus.subscribe("test", CommandRouted)
    app = SimulatedApp("127.0.0.1", served.port, login=OWNER, password=OWNER_PASSWORD)
    await app.login()
    (entry,) = app.cameras
    reply = await app.command(entry.destination, f"modify-device|{entry.device_id}|QTY=3+FPS=20|")
    await app.close()
    assert await asyncio.wait_for(routed.get(), 5) == CommandRouted(
        online_camera.camera_id, "modify-device", OWNER
    )
    assert reply.action == Action.COMMAND
    assert reply.body == f"ack|modify-device|{entry.device_id}|".encode()
    assert online_camera.settings == {"QTY": "3", "FPS": "20"}
    assert served.broker.status()["commands_routed"] == 2  # the request and its answer


async def test_k_client_keepalive_and_command(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    client = KClient("127.0.0.1", served.port, OWNER, await served.store.issue_token(OWNER))
    await client.log_in()
    await client.keepalive()
    keepalive = await client.receive()
    assert (keepalive.action, keepalive.block) == (Action.KEEPALIVE, client.block)
    destination = f"{online_camera.camera_id}:{MAC}"
    await client.command(destination, f"require-video-send|{online_camera.camera_id}|8|", "LOG-1")
    answer = await client.receive()
    await client.close()
    assert answer.body.startswith(b"ack|require-video-send|")
    assert parse_properties(answer.options)["CorrelationID"] == "LOG-1"


async def test_command_to_offline_or_foreign_camera_is_an_error(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    for login, password in ((OWNER, OWNER_PASSWORD), (OTHER, OTHER_PASSWORD)):
        app = SimulatedApp("127.0.0.1", served.port, login=login, password=password)
        await app.login()
        target = "999:00:00:00:00:00:01" if login == OWNER else f"{online_camera.camera_id}"
        reply = await app.command(target, "stop-video-receive|1|")
        await app.close()
        assert reply.action == Action.ERROR
        assert parse_properties(reply.body)["error"] == "offline"
        assert "is not online" in parse_properties(reply.body)["reason"]
    assert online_camera.commands_answered == 0


async def test_cx_dstid_names_a_camera_in_every_published_form(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    stored = await served.store.find_camera(mac=MAC)
    assert stored.reported_alias == online_camera.alias  # what the camera sent, kept
    camera_id = stored.id
    forms = (
        str(camera_id),  # `<id>`
        f"{camera_id}:{MAC}",  # K: `<deviceId>:<mac>`
        f"{camera_id}:{MAC.lower().replace(':', '')}",  # the MAC in another spelling
        stored.alias,  # R: the REST alias `<account alias>:<MAC>`
        stored.reported_alias,  # the alias the camera reported at login
    )
    app = SimulatedApp("127.0.0.1", served.port, login=OWNER, password=OWNER_PASSWORD)
    await app.login()
    for index, destination in enumerate(forms):
        reply = await app.command(destination, f"modify-device|{camera_id}|QTY={index}|")
        assert reply.body == f"ack|modify-device|{camera_id}|".encode(), destination
    for wrong in (f"{camera_id}:00:00:00:00:00:01", f"x{stored.alias}", "", f"{camera_id}:"):
        reply = await app.command(wrong, "stop-video-receive|1|")
        assert parse_properties(reply.body)["error"] == "offline", wrong
    await app.close()
    # Another account reaches it in no form at all, and is told only "not online".
    other = SimulatedApp("127.0.0.1", served.port, login=OTHER, password=OTHER_PASSWORD)
    await other.login()
    for destination in forms:
        reply = await other.command(destination, "stop-video-receive|1|")
        assert parse_properties(reply.body).as_dict() == {
            "error": "offline",
            "reason": f"camera {destination} is not online",
        }
    await other.close()
    assert online_camera.commands_answered == len(forms)


ID_FORMS = st.from_regex(r"[0-9]{1,22}(:[0-9A-Fa-f:\-.]{0,20})?", fullmatch=True)


@given(st.text(max_size=60) | ID_FORMS)
def test_parse_destination_never_fails(text: str) -> None:
    destination = parse_destination(text)
    assert destination.text == text.strip()
    if destination.camera_id is not None:
        assert destination.camera_id == int(destination.text.partition(":")[0])
    assert destination.mac is None or len(destination.mac) == 17


async def test_interceptor_answers_instead_of_the_camera(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    seen: list[Command] = []

    async def offer(asker: Session, frame: Frame, command: Command, target: Session) -> bool:
        seen.append(command)
        options = parse_properties(frame.options)
        asker.send(asker.frame(Action.VIDEOMID, options=b"rtp://127.0.0.1:6178", body=b""))
        asker.send(
            asker.frame(
                Action.COMMAND,
                options=encode_properties({"CorrelationID": options["CorrelationID"]}),
                body=b"accept-video-receive|",
            )
        )
        return True

    served.broker.offer_answerer = offer
    client = RClient("127.0.0.1", served.port, OWNER, await served.store.issue_token(OWNER))
    await client.log_in()
    await client.command(f"{online_camera.camera_id}:{MAC}", "require-video-send|1|8|", "C1")
    first, second = await client.receive(), await client.receive()
    await client.close()
    assert (first.action, first.options) == (Action.VIDEOMID, b"rtp://127.0.0.1:6178")
    assert second.body == b"accept-video-receive|"
    assert [command.name for command in seen] == ["require-video-send"]
    assert online_camera.commands_answered == 0


async def test_fakecloud_sends_commands_itself(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    reply = await served.broker.send_command(online_camera.camera_id, "modify-device|1|FPS=5|")
    assert reply.body.startswith(b"ack|modify-device|") and online_camera.settings == {"FPS": "5"}
    with pytest.raises(CameraOfflineError):
        await served.broker.send_command(12345, "modify-device|1|FPS=5|")


async def test_the_bus_hears_cameras_come_and_go(served: BrokerServer) -> None:
    presence = served.broker.bus.subscribe("test", CameraOnline, CameraOffline)

    async def heard() -> tuple[int, bool]:
        event = await presence.get()
        assert isinstance(event, CameraOnline | CameraOffline)
        if isinstance(event, CameraOnline):
            assert (event.owner, event.address) == (OWNER, "127.0.0.1")
            # A command sent at once reaches a camera that already has its login reply.
            command = f"modify-device|{event.camera_id}|FPS=7|"
            reply = await served.broker.send_command(event.camera_id, command)
            assert reply.body.startswith(b"ack|modify-device|")
        return event.camera_id, isinstance(event, CameraOnline)

    camera = camera_for(served)
    task = asyncio.create_task(camera.run())
    async with asyncio.timeout(5):
        camera_id, online = await heard()
        await camera.logged_in.wait()
        assert (camera_id, online) == (camera.camera_id, True)
        camera.drop_connection()
        assert await heard() == (camera_id, False)
        assert await heard() == (camera_id, True)  # it reconnected by itself
    assert camera.settings == {"FPS": "7"} and camera.login_count == 2
    camera.stop()
    await task
    assert await asyncio.wait_for(heard(), 5) == (camera_id, False)


async def test_camera_events_are_stored(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    motion = served.broker.bus.subscribe("test", Motion)
    await online_camera.report_motion()
    heard = await asyncio.wait_for(motion.get(), 5)
    assert isinstance(heard, Motion) and heard.camera_id == online_camera.camera_id

    async def has_event() -> bool:
        events = await served.store.list_events(online_camera.camera_id)
        return any(event.kind == "motion-event" for event in events)

    await wait_until(has_event)


async def test_silent_session_is_closed_and_camera_marked_offline(
    served: BrokerServer,
) -> None:
    served.broker.settings = served.broker.settings.model_copy(update={"keepalive_timeout": 0.3})
    camera = camera_for(served, keepalive_interval=60.0)
    task = asyncio.create_task(camera.run(max_attempts=1))
    await asyncio.wait_for(camera.logged_in.wait(), 5)
    started = time.monotonic()
    await asyncio.wait_for(camera.disconnected.wait(), 5)
    assert 0.25 < time.monotonic() - started < 2
    assert not (await served.store.find_camera(mac=MAC)).online
    await task


async def test_keepalives_keep_a_session_open(served: BrokerServer) -> None:
    served.broker.settings = served.broker.settings.model_copy(update={"keepalive_timeout": 0.4})
    camera = camera_for(served, keepalive_interval=0.1)
    task = asyncio.create_task(camera.run(max_attempts=1))
    await asyncio.wait_for(camera.logged_in.wait(), 5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(camera.disconnected.wait(), 1.2)
    camera.stop()
    await task


async def last_seen_after_login(served: BrokerServer, camera: SimulatedCamera) -> Any:
    await served.store.flush()
    stored = await served.store.find_camera(mac=camera.mac)
    assert stored.online and stored.last_seen is not None
    return stored.last_seen


async def test_keepalives_advance_last_seen(served: BrokerServer) -> None:
    served.store.last_seen_interval = 0.0  # every keepalive writes it
    camera = camera_for(served, keepalive_interval=0.1)
    task = asyncio.create_task(camera.run(max_attempts=1))
    await asyncio.wait_for(camera.logged_in.wait(), 5)
    at_login = await last_seen_after_login(served, camera)

    async def advanced() -> bool:
        return (await served.store.find_camera(mac=MAC)).last_seen > at_login

    await wait_until(advanced)  # only keepalives flow now: they moved it
    assert (await served.store.find_camera(mac=MAC)).online
    camera.stop()
    await task


async def test_keepalive_writes_are_coalesced_per_camera(served: BrokerServer) -> None:
    served.store.last_seen_interval = 3600.0  # none of these keepalives may write it
    camera = camera_for(served, keepalive_interval=0.05)
    task = asyncio.create_task(camera.run(max_attempts=1))
    await asyncio.wait_for(camera.logged_in.wait(), 5)
    at_login = await last_seen_after_login(served, camera)
    counters = served.store.write_counters

    async def several_skipped() -> bool:
        return counters["keepalives_skipped"] >= 3

    await wait_until(several_skipped)
    assert (await last_seen_after_login(served, camera)) == at_login
    camera.stop()
    await task


async def test_malformed_frame_closes_only_its_own_session(
    served: BrokerServer, online_camera: SimulatedCamera
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"A\x03\x05\x00\x08\x00" + bytes(40))
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert served.broker.status()["malformed_frames"] == 1
    assert served.recorder.of_kind("frame")[-1]["error"]
    assert online_camera.logged_in.is_set()
    reply = await served.broker.send_command(online_camera.camera_id, "modify-device|1|FPS=1|")
    assert reply.action == Action.COMMAND


async def test_oversized_frame_is_refused_from_its_header(served: BrokerServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    limit = served.broker.settings.max_request_bytes
    writer.write(encode_frame(Frame(action=Action.LOGIN, body=b"x" * (limit + 1)))[:64])
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_garbage_flood_does_not_delay_a_login(served: BrokerServer) -> None:
    garbage = []
    for index in range(60):
        _, writer = await asyncio.open_connection("127.0.0.1", served.port)
        # half send junk, half say nothing at all
        if index % 2:
            writer.write(bytes([index]) * 500)
        garbage.append(writer)
    started = time.monotonic()
    client = RClient("127.0.0.1", served.port, OWNER, await served.store.issue_token(OWNER))
    reply = await client.log_in()
    elapsed = time.monotonic() - started
    await client.close()
    for writer in garbage:
        writer.close()
    assert reply.action == Action.LOGIN and elapsed < 1.0


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


async def test_frames_before_login_are_recorded(served: BrokerServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(pack(3, 508, 0, bytes(16), b"66.160.133.73:6178", b""))
    writer.write(pack(1, 519, 2, bytes(16), b"CX_UNAME=alice\nCX_PASSWD=nope\n", b""))
    reply = await asyncio.wait_for(read_reply(reader), 5)
    writer.close()
    assert reply.action == Action.ERROR
    (early,) = served.recorder.of_kind("frame")
    assert early["action"] == Action.VIDEO and early["note"] == "before login"


async def test_cameras_come_back_after_a_server_restart(served: BrokerServer) -> None:
    cameras = [camera_for(served, mac=f"00:11:22:33:44:{index:02X}") for index in range(5)]
    tasks = [asyncio.create_task(camera.run()) for camera in cameras]
    async with asyncio.timeout(5):
        for camera in cameras:
            await camera.logged_in.wait()
    await served.shutdown()
    async with asyncio.timeout(5):
        for camera in cameras:
            await camera.disconnected.wait()
    assert not any(camera.online for camera in await served.store.list_cameras())
    served.broker = Broker(served.broker.settings, served.store, served.recorder)
    await served.listen()  # same port
    async with asyncio.timeout(5):
        for camera in cameras:
            await camera.logged_in.wait()

    async def all_online() -> bool:
        return all(camera.online for camera in await served.store.list_cameras())

    await wait_until(all_online)
    assert all(camera.login_count == 2 for camera in cameras)
    for camera in cameras:
        camera.stop()
    await asyncio.gather(*tasks)
