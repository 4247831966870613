"""Command routing end to end (CX_DSTID in every form, answers back, our own commands)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.broker import CameraOfflineError, Session, parse_destination
from fakecloud.core.events import CommandRouted, Motion
from fakecloud.net.commands import Command
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import encode_properties, parse_properties
from fakecloud.sim.app import SimulatedApp
from fakecloud.sim.camera import SimulatedCamera
from tests.broker.conftest import (
    MAC,
    OTHER,
    OTHER_PASSWORD,
    OWNER,
    OWNER_PASSWORD,
    BrokerServer,
    wait_until,
)
from tests.broker.tend_clients import RClient


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
