"""Home Assistant discovery topics and payloads (pure), and the inbound messages fakecloud reads,
fuzzed: anything on the broker is someone else's input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.integrations.mqtt.discovery import ENTITIES, CommandError, Topics
from fakecloud.store.models import Camera

TOPICS = Topics()
CAMERA = Camera(
    id=7,
    alias="abcdef:94103E000007",
    mac="94:10:3E:00:00:07",
    p2p_key="k",
    owner="alice",
    name="Front door",
    firmware="2.4.1",
    properties={"model": "F7D7602"},
    last_seen=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
)


def test_each_entity_has_a_retained_config_naming_one_device() -> None:
    messages = TOPICS.announce(CAMERA)
    assert len(messages) == len(ENTITIES) and all(m.retain for m in messages)
    configs = {m.topic: json.loads(m.payload) for m in messages}
    assert "homeassistant/binary_sensor/fakecloud/camera7_motion/config" in configs
    assert "homeassistant/image/fakecloud/camera7_snapshot/config" in configs
    devices = [config["device"] for config in configs.values()]
    assert all(device == devices[0] for device in devices)
    assert devices[0] == {
        "identifiers": ["fakecloud_94103e000007"],
        "connections": [["mac", "94:10:3e:00:00:07"]],
        "name": "Front door",
        "manufacturer": "Belkin",
        "model": "F7D7602",
        "sw_version": "2.4.1",
    }
    unique_ids = {config["unique_id"] for config in configs.values()}
    assert len(unique_ids) == len(ENTITIES)
    for topic, config in configs.items():
        assert TOPICS.config_camera(topic) == CAMERA.id
        assert config["availability_topic"] == "fakecloud/status"
        for key in ("state_topic", "image_topic", "command_topic"):
            assert config.get(key, "fakecloud/camera/7/").startswith("fakecloud/camera/7/")


def test_presence_and_withdrawal() -> None:
    presence = {m.topic: m.payload for m in TOPICS.presence(CAMERA, online=False)}
    assert presence == {
        "fakecloud/camera/7/connectivity": b"OFF",
        "fakecloud/camera/7/last_seen": b"2026-01-02T03:04:05+00:00",
        "fakecloud/camera/7/firmware": b"2.4.1",
    }
    withdrawn = TOPICS.withdraw(CAMERA.id)
    assert {m.topic for m in withdrawn} == {m.topic for m in TOPICS.announce(CAMERA)}
    assert all(m.payload == b"" and m.retain for m in withdrawn)


def test_an_unnamed_camera_without_firmware() -> None:
    bare = Camera(id=1, alias="x", mac="94103e000001", p2p_key="k", owner="a", name=None)
    device = json.loads(TOPICS.announce(bare)[0].payload)["device"]
    assert device["name"] == "NetCam 3e000001"
    assert "sw_version" not in device and device["model"] == "NetCam"
    assert [m.topic for m in TOPICS.presence(bare, online=True)] == [
        "fakecloud/camera/1/connectivity"
    ]


def test_the_snapshot_button() -> None:
    assert TOPICS.snapshot_command("fakecloud/camera/42/snapshot/take", b"PRESS") == 42
    for topic, payload in [
        ("fakecloud/camera/42/snapshot/take", b"press me"),
        ("fakecloud/camera/x/snapshot/take", b"PRESS"),
        ("fakecloud/camera/42/motion", b"PRESS"),
        ("other/camera/42/snapshot/take", b"PRESS"),
        ("fakecloud/camera/٣/snapshot/take", b"PRESS"),  # a digit, but not an ASCII one
    ]:
        with pytest.raises(CommandError):
            TOPICS.snapshot_command(topic, payload)


def test_prefixes_must_be_one_topic_level() -> None:
    for bad in ("a/b", "#", "+", "", "x" * 65):
        with pytest.raises(ValueError, match="prefix"):
            Topics(prefix=bad)
    assert (
        Topics("home-1", "ha").config(3, ENTITIES[0])
        == "ha/binary_sensor/home-1/camera3_motion/config"
    )


topic_levels = st.lists(
    st.one_of(
        st.sampled_from(["fakecloud", "camera", "snapshot", "take", "config", "7"]), st.text()
    ),
    max_size=7,
)


@given(topic_levels, st.binary(max_size=80))
def test_any_inbound_message_is_a_command_or_refused(levels: list[str], payload: bytes) -> None:
    topic = "/".join(levels)
    try:
        camera_id = TOPICS.snapshot_command(topic, payload)
    except CommandError:
        return
    assert topic == f"fakecloud/camera/{camera_id}/snapshot/take" and 0 <= camera_id < 10**19


@given(topic_levels)
def test_any_topic_is_one_of_our_configs_or_not(levels: list[str]) -> None:
    topic = "/".join(levels)
    camera_id = TOPICS.config_camera(topic)
    if camera_id is not None:
        assert topic in {TOPICS.config(camera_id, entity) for entity in ENTITIES}


def test_a_naive_last_seen_is_taken_as_utc() -> None:
    message = TOPICS.last_seen(7, datetime(2026, 1, 2, 3, 4, 5))  # naive on purpose
    assert message.payload == b"2026-01-02T03:04:05+00:00"
