"""The whole server with MQTT on, against a real mosquitto: a simulated camera logs in and
shows up in Home Assistant's discovery topics; motion (reported by the camera, or seen by the
server's detector and recorded), the snapshot button, a broker restart, Home Assistant
restarting and a forgotten camera, all checked with mosquitto_sub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from fakecloud.certs import ensure_authority
from fakecloud.core.config import Settings
from fakecloud.core.events import Motion, RecordingFinished
from fakecloud.integrations.mqtt.part import MOTION_HOLD_SECONDS, MqttPart
from fakecloud.motion.events import PICTURES_DIR
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.demo import simulated_mac
from fakecloud.store.store import Store
from tests.integrations.mqtt.mosquitto import (
    WITHIN,
    Mosquitto,
    Subscriber,
    TlsFiles,
    needs_mosquitto,
    publish,
    running_mosquitto,
    subscribe,
)
from tests.media.test_viewer_e2e import OWNER, Cloud, online, running_cloud
from tests.motion.test_part import DETECTION
from tests.recording.clips import probe

pytestmark = needs_mosquitto

CONFIGS = "homeassistant/+/fakecloud/+/config"
ENTITY_COUNT = 6


@pytest.fixture
async def mosquitto(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    async with running_mosquitto(tmp_path) as broker:
        yield broker


@contextlib.asynccontextmanager
async def cloud_on(settings: Settings, url: str) -> AsyncIterator[tuple[Cloud, MqttPart]]:
    async with running_cloud(settings, mqtt_url=SecretStr(url)) as cloud:
        part = cloud.runtime.part("mqtt")
        assert isinstance(part, MqttPart)
        yield cloud, part


async def test_a_camera_that_logs_in_is_announced_with_its_state(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with cloud_on(settings, mosquitto.url) as (cloud, part), online(cloud.camera(0)) as cam:
        camera_id = cam.camera_id
        configs = await subscribe(mosquitto, CONFIGS, count=ENTITY_COUNT)
        assert len(configs) == ENTITY_COUNT
        assert {m.topic.split("/")[3] for m in configs} == {
            f"camera{camera_id}_{key}"
            for key in ("motion", "connectivity", "snapshot", "last_seen", "firmware")
        } | {f"camera{camera_id}_take_snapshot"}
        by_kind = {json.loads(m.payload)["name"]: json.loads(m.payload) for m in configs}
        motion, connected = by_kind["Motion"], by_kind["Connected"]
        assert motion["device_class"] == "motion" and connected["device_class"] == "connectivity"
        assert by_kind["Last seen"]["device_class"] == "timestamp"
        assert by_kind["Snapshot"]["image_topic"] == f"fakecloud/camera/{camera_id}/snapshot"
        assert by_kind["Take snapshot"]["command_topic"].endswith("/snapshot/take")
        device = motion["device"]
        assert device["manufacturer"] == "Belkin" and device["identifiers"]
        assert all(config["device"] == device for config in by_kind.values())
        assert all(
            config["availability_topic"] == "fakecloud/status" for config in by_kind.values()
        )

        state = await subscribe(
            mosquitto, f"fakecloud/camera/{camera_id}/connectivity", "fakecloud/status", count=2
        )
        assert {m.topic: m.payload for m in state} == {
            f"fakecloud/camera/{camera_id}/connectivity": b"ON",
            "fakecloud/status": b"online",
        }
        async with Subscriber(
            mosquitto, f"fakecloud/camera/{camera_id}/connectivity", count=1, skip_retained=True
        ) as offline:
            cam.stop()
            assert [m.payload for m in await offline.messages()] == [b"OFF"]
        assert part.status()["connected"] is True


async def test_motion_and_the_snapshot_button_publish_pictures(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with cloud_on(settings, mosquitto.url) as (cloud, _), online(cloud.camera(0)) as cam:
        camera_id = cam.camera_id
        assert camera_id is not None
        await subscribe(mosquitto, CONFIGS, count=ENTITY_COUNT)
        base = f"fakecloud/camera/{camera_id}"
        async with Subscriber(
            mosquitto, f"{base}/motion", f"{base}/snapshot", count=2, skip_retained=True
        ) as watching:
            await cam.report_motion()  # the camera's own motion event, through the broker
            seen = {m.topic: m.payload for m in await watching.messages()}
        assert seen[f"{base}/motion"] == b"ON"
        assert seen[f"{base}/snapshot"].startswith(b"\xff\xd8")  # a JPEG

        async with Subscriber(mosquitto, f"{base}/snapshot", count=1, skip_retained=True) as shot:
            await publish(mosquitto, f"{base}/snapshot/take", "PRESS")
            pictures = await shot.messages()
        assert len(pictures) == 1 and pictures[0].payload.startswith(b"\xff\xd8")


async def test_a_detectors_motion_is_on_from_its_start_to_its_end(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with cloud_on(settings, mosquitto.url) as (cloud, _), online(cloud.camera(0)) as cam:
        camera_id = cam.camera_id
        assert camera_id is not None
        await subscribe(mosquitto, CONFIGS, count=ENTITY_COUNT)
        topic = f"fakecloud/camera/{camera_id}/motion"
        bus = cloud.runtime.services.bus
        async with Subscriber(mosquitto, topic, count=1, skip_retained=True) as watching:
            bus.publish(Motion(camera_id, {"state": "start"}))
            assert [m.payload for m in await watching.messages()] == [b"ON"]
        async with Subscriber(mosquitto, topic, count=1, skip_retained=True) as watching:
            bus.publish(Motion(camera_id, {"state": "end"}))
            # At once: not after the 10 s a camera's own motion event is held ON.
            async with asyncio.timeout(MOTION_HOLD_SECONDS / 2):
                assert [m.payload for m in await watching.messages()] == [b"OFF"]


async def test_a_motion_that_starts_and_ends_at_once_is_on_then_off(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    """Both in one turn of the loop, before the sender runs: Home Assistant still sees the
    motion (ON, then OFF), not only its end."""
    async with cloud_on(settings, mosquitto.url) as (cloud, _), online(cloud.camera(0)) as cam:
        camera_id = cam.camera_id
        assert camera_id is not None
        await subscribe(mosquitto, CONFIGS, count=ENTITY_COUNT)
        bus = cloud.runtime.services.bus
        topic = f"fakecloud/camera/{camera_id}/motion"
        async with Subscriber(mosquitto, topic, count=2, skip_retained=True) as watching:
            bus.publish(Motion(camera_id, {"state": "start"}))
            bus.publish(Motion(camera_id, {"state": "end"}))
            assert [m.payload for m in await watching.messages()] == [b"ON", b"OFF"]


async def test_a_restarted_broker_and_home_assistant_get_discovery_again(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with cloud_on(settings, mosquitto.url) as (cloud, part), online(cloud.camera(0)):
        await subscribe(mosquitto, CONFIGS, count=ENTITY_COUNT)
        # Killed and started afresh (no persistence): every retained message is gone.
        await mosquitto.stop()
        await mosquitto.start()
        again = await subscribe(mosquitto, CONFIGS, "fakecloud/status", count=ENTITY_COUNT + 1)
        assert len(again) == ENTITY_COUNT + 1
        assert part.counters["connects"] == 2

        async with Subscriber(mosquitto, CONFIGS, count=ENTITY_COUNT, skip_retained=True) as live:
            await publish(mosquitto, "homeassistant/status", "online")
            republished = await live.messages()
        assert len(republished) == ENTITY_COUNT and not any(m.retained for m in republished)


async def test_a_forgotten_camera_leaves_home_assistant(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with cloud_on(settings, mosquitto.url) as (cloud, part):
        async with online(cloud.camera(0)) as cam:
            camera_id = cam.camera_id
            assert camera_id is not None
            await subscribe(mosquitto, CONFIGS, count=ENTITY_COUNT)
        with Store(cloud.runtime.settings.database_path) as store:  # `fakecloud camera forget`
            store.forget_camera(camera_id)
        async with Subscriber(mosquitto, CONFIGS, count=ENTITY_COUNT, skip_retained=True) as live:
            await publish(mosquitto, "homeassistant/status", "online")
            removals = await live.messages()
        assert [m.payload for m in removals] == [b""] * ENTITY_COUNT
        assert part.counters["withdrawn"] == 1


async def test_credentials_reach_the_broker_and_never_the_log(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # paho's and aiomqtt's debug lines included
    user, password = "fakecloud", "s3cret-pass"
    async with running_mosquitto(tmp_path, (user, password)) as broker:
        wrong = f"mqtt://{user}:not-{password}@127.0.0.1:{broker.port}"
        async with cloud_on(settings, wrong) as (_, part):
            async with asyncio.timeout(WITHIN):
                while part.last_error is None:  # noqa: ASYNC110 - polling the part's status
                    await asyncio.sleep(0.02)
            assert not part.status()["connected"]
        right = f"mqtt://{user}:{password}@127.0.0.1:{broker.port}"
        second = settings.model_copy(update={"data_dir": tmp_path / "second"})
        async with cloud_on(second, right) as (cloud, _), online(cloud.camera(0)):
            configs = await subscribe(broker, CONFIGS, count=ENTITY_COUNT)
        assert len(configs) == ENTITY_COUNT
    assert password not in caplog.text and "not-" + password not in caplog.text


async def test_mqtts_with_the_brokers_own_ca(settings: Settings, tmp_path: Path) -> None:
    """A TLS broker whose certificate fakecloud checks against a CA file (here fakecloud's own
    CA signed it: its device certificate names 127.0.0.1, the announce address)."""
    authority = ensure_authority(settings)
    leaf = authority.leaf_paths("device")
    tls = TlsFiles(leaf.certificate, leaf.key, authority.ca_pem_path)
    async with running_mosquitto(tmp_path, tls=tls) as broker:
        assert broker.url.startswith("mqtts://")
        async with (
            running_cloud(
                settings, mqtt_url=SecretStr(broker.url), mqtt_ca_file=authority.ca_pem_path
            ) as cloud,
            online(cloud.camera(0)),
        ):
            configs = await subscribe(broker, CONFIGS, count=ENTITY_COUNT)
        assert len(configs) == ENTITY_COUNT
        # Without that CA file the system's CAs do not vouch for the broker: no connection.
        untrusting = settings.model_copy(update={"data_dir": tmp_path / "second"})
        async with cloud_on(untrusting, broker.url) as (_, part):
            async with asyncio.timeout(WITHIN):
                while part.last_error is None:  # noqa: ASYNC110 - polling the part's status
                    await asyncio.sleep(0.02)
            assert "certificate" in part.last_error.lower()
            assert part.counters["connects"] == 0


async def test_a_pending_camera_is_announced_once_approved(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with cloud_on(settings, mosquitto.url) as (cloud, part):
        pending = SimulatedCamera(
            "127.0.0.1", cloud.cloud_port, login=None, password=None, mac=simulated_mac(1)
        )
        async with online(pending), httpx.AsyncClient(timeout=WITHIN) as client:
            stored = await cloud.runtime.services.store.find_camera(mac=pending.mac)  # type: ignore[union-attr]
            assert stored is not None and stored.pending
            assert part.status()["cameras"] == 0, "nobody owns it yet"
            base = f"fakecloud/camera/{stored.id}"
            async with Subscriber(
                mosquitto, CONFIGS, f"{base}/connectivity", count=ENTITY_COUNT + 1
            ) as announced:
                approved = await client.post(
                    cloud.url(f"/api/cameras/{stored.id}/approve"),
                    json={"account": OWNER},
                    headers={"AntiCSRF": "1"},
                )
                assert approved.status_code == 200, approved.text
                messages = await announced.messages()
        assert {m.topic: m.payload for m in messages}[f"{base}/connectivity"] == b"ON"
        assert len(messages) == ENTITY_COUNT + 1


async def test_a_cameras_motion_reaches_home_assistant_the_event_log_and_a_clip(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    """The issue's whole path: the simulated camera's picture moves; the server's detector
    sees it; Home Assistant's motion entity says ON over a real mosquitto, then OFF once it
    stops; the start is a stored event with a picture; its clip plays (ffprobe)."""
    changes = {
        "motion_detection": True,
        **DETECTION,
        "record_mode": "motion",
        "record_pre_seconds": 1.0,
        "record_post_seconds": 1.0,
    }
    async with (
        running_cloud(settings, mqtt_url=SecretStr(mosquitto.url), **changes) as cloud,
        online(cloud.camera(0)) as cam,
    ):
        camera_id = cam.camera_id
        assert camera_id is not None
        await subscribe(mosquitto, CONFIGS, count=ENTITY_COUNT)
        finished = cloud.runtime.services.bus.subscribe("test", RecordingFinished)
        async with asyncio.timeout(WITHIN):
            await cam.video_running.wait()  # detection and recording make it stream
        topic = f"fakecloud/camera/{camera_id}/motion"
        for moving, said in ((True, b"ON"), (False, b"OFF")):
            async with Subscriber(mosquitto, topic, count=1, skip_retained=True) as watching:
                await cam.show_motion(moving)
                assert [m.payload for m in await watching.messages()] == [said]
        async with asyncio.timeout(WITHIN):
            clip = await finished.get()
        assert isinstance(clip, RecordingFinished) and clip.camera_id == camera_id
        assert probe(Path(clip.path))["codec_name"] == "h264"
        events = await cloud.runtime.services.store.list_events(camera_id, 10)
        assert [event.data.get("state") for event in events] == ["start"]
        picture = settings.data_dir / PICTURES_DIR / f"{events[0].id}.jpg"
        assert picture.read_bytes()[:2] == b"\xff\xd8"
