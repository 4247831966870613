"""The connection loop end to end: keepalives, silence, malformed and early frames."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from fakecloud.net.cxnet import Action, Frame, encode_frame
from fakecloud.net.properties import parse_properties
from fakecloud.sim.camera import SimulatedCamera
from tests.broker.conftest import (
    MAC,
    OWNER,
    BrokerServer,
    camera_for,
    wait_until,
)
from tests.broker.tend_clients import KClient, RClient, pack, read_reply


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


async def test_frames_before_login_are_recorded(served: BrokerServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(pack(3, 508, 0, bytes(16), b"66.160.133.73:6178", b""))
    writer.write(pack(1, 519, 2, bytes(16), b"CX_UNAME=alice\nCX_PASSWD=nope\n", b""))
    reply = await asyncio.wait_for(read_reply(reader), 5)
    writer.close()
    assert reply.action == Action.ERROR
    (early,) = served.recorder.of_kind("frame")
    assert early["action"] == Action.VIDEO and early["note"] == "before login"
