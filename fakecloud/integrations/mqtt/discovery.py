"""Topics and payloads for Home Assistant's MQTT discovery: pure, no I/O.

Every owned camera is one device with six entities. Their discovery topics are
`<discovery prefix>/<component>/<node id>/camera<ID>_<entity>/config`, where the node id is the
topic prefix (default `fakecloud`), so one subscription (`<discovery>/+/<node>/+/config`) finds
every retained config this server ever published, and a camera forgotten while fakecloud was
down can still be removed. State lives under `<prefix>/camera/<ID>/...`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fakecloud import __version__
from fakecloud.store.models import Camera

ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"
PRESS = "PRESS"
JPEG = "image/jpeg"
# An MQTT topic level may not hold the wildcards or the separator; HA's node and object ids are
# [a-zA-Z0-9_-]. Settings are checked against this.
TOPIC_WORD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OBJECT_ID = re.compile(r"camera([0-9]{1,19})_([a-z_]{1,32})")


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool = False
    # A change Home Assistant may trigger on (motion, connectivity, a finished recording): never
    # replaced by a newer one while it waits to be sent (fakecloud/integrations/mqtt/outbox.py).
    every_change: bool = False


@dataclass(frozen=True)
class Entity:
    """One Home Assistant entity of a camera's device."""

    key: str  # object id suffix
    component: str
    name: str
    options: dict[str, Any]
    # Option name -> topic leaf under the camera's state topics.
    topics: dict[str, str]


_DIAGNOSTIC = {"entity_category": "diagnostic"}
ENTITIES = (
    Entity(
        "motion", "binary_sensor", "Motion", {"device_class": "motion"}, {"state_topic": "motion"}
    ),
    Entity(
        "connectivity",
        "binary_sensor",
        "Connected",
        {"device_class": "connectivity", **_DIAGNOSTIC},
        {"state_topic": "connectivity"},
    ),
    Entity("snapshot", "image", "Snapshot", {"content_type": JPEG}, {"image_topic": "snapshot"}),
    Entity(
        "last_seen",
        "sensor",
        "Last seen",
        {"device_class": "timestamp", **_DIAGNOSTIC},
        {"state_topic": "last_seen"},
    ),
    Entity("firmware", "sensor", "Firmware", _DIAGNOSTIC, {"state_topic": "firmware"}),
    Entity(
        "take_snapshot",
        "button",
        "Take snapshot",
        {"payload_press": PRESS},
        {"command_topic": "snapshot/take"},
    ),
)
ENTITY_KEYS = frozenset(entity.key for entity in ENTITIES)


class CommandError(ValueError):
    """An inbound message that is not a command fakecloud takes."""


@dataclass(frozen=True)
class Topics:
    prefix: str = "fakecloud"
    discovery_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        for word in (self.prefix, self.discovery_prefix):
            if not TOPIC_WORD.fullmatch(word):
                raise ValueError(f"an MQTT prefix is 1-64 of A-Z a-z 0-9 _ -, not {word!r}")

    @property
    def availability(self) -> str:
        """fakecloud's own online/offline (the last will says offline)."""
        return f"{self.prefix}/status"

    @property
    def home_assistant_status(self) -> str:
        """Where Home Assistant says `online` when it (re)starts: republish discovery then."""
        return f"{self.discovery_prefix}/status"

    @property
    def snapshot_commands(self) -> str:
        """The subscription for every camera's snapshot button."""
        return f"{self.prefix}/camera/+/snapshot/take"

    @property
    def retained_configs(self) -> str:
        """The subscription that finds every discovery config this node published."""
        return f"{self.discovery_prefix}/+/{self.prefix}/+/config"

    def camera(self, camera_id: int) -> str:
        return f"{self.prefix}/camera/{camera_id}"

    def state(self, camera_id: int, key: str) -> str:
        return f"{self.camera(camera_id)}/{key}"

    def config(self, camera_id: int, entity: Entity) -> str:
        object_id = f"camera{camera_id}_{entity.key}"
        return f"{self.discovery_prefix}/{entity.component}/{self.prefix}/{object_id}/config"

    # -- what fakecloud publishes -----------------------------------------------------------

    def announce(self, camera: Camera) -> list[Message]:
        """The retained discovery configs of one camera's device and entities."""
        device = _device(camera)
        origin = {"name": "fakecloud", "sw_version": __version__}
        messages = []
        for entity in ENTITIES:
            config = {
                "name": entity.name,
                "unique_id": f"fakecloud_{_mac_id(camera.mac)}_{entity.key}",
                "availability_topic": self.availability,
                "payload_available": ONLINE,
                "payload_not_available": OFFLINE,
                "device": device,
                "origin": origin,
                **entity.options,
                **{option: self.state(camera.id, leaf) for option, leaf in entity.topics.items()},
            }
            messages.append(Message(self.config(camera.id, entity), _json(config), retain=True))
        return messages

    def withdraw(self, camera_id: int) -> list[Message]:
        """Empty retained configs: Home Assistant removes the device, the broker forgets it."""
        return [Message(self.config(camera_id, entity), b"", retain=True) for entity in ENTITIES]

    def presence(self, camera: Camera, *, online: bool) -> list[Message]:
        """Connectivity, last seen and firmware, retained so a restarted HA sees them at once."""
        connectivity = self.state(camera.id, "connectivity")
        messages = [Message(connectivity, _on_off(online), retain=True, every_change=True)]
        if camera.last_seen is not None:
            messages.append(self.last_seen(camera.id, camera.last_seen))
        if camera.firmware:
            messages.append(
                Message(self.state(camera.id, "firmware"), camera.firmware.encode(), retain=True)
            )
        return messages

    def last_seen(self, camera_id: int, when: datetime) -> Message:
        """ISO 8601 with its zone, as a timestamp sensor needs (a naive time is UTC)."""
        aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return Message(self.state(camera_id, "last_seen"), aware.isoformat().encode(), retain=True)

    def motion(self, camera_id: int, *, moving: bool) -> Message:
        return Message(
            self.state(camera_id, "motion"), _on_off(moving), retain=True, every_change=True
        )

    def snapshot(self, camera_id: int, jpeg: bytes) -> Message:
        """The picture itself (HA's image entity takes raw bytes); retained: the latest one."""
        return Message(self.state(camera_id, "snapshot"), jpeg, retain=True)

    def recording(self, camera_id: int, path: str, seconds: float) -> Message:
        """A finished clip, for automations (no discovery entity: HA has no clip type)."""
        body = _json({"path": path, "seconds": round(seconds, 3)})
        return Message(self.state(camera_id, "recording"), body, every_change=True)

    # -- what fakecloud reads -----------------------------------------------------------------

    def snapshot_command(self, topic: str, payload: bytes) -> int:
        """The camera id a press of the snapshot button names; CommandError otherwise."""
        head, separator, rest = topic.partition(f"{self.prefix}/camera/")
        if head or not separator:
            raise CommandError("not a fakecloud camera topic")
        camera_text, _, leaf = rest.partition("/")
        if leaf != "snapshot/take":
            raise CommandError("not a snapshot button")
        if not camera_text.isascii() or not camera_text.isdigit() or len(camera_text) > 19:
            raise CommandError("the camera id is not a number")
        if payload.strip() != PRESS.encode():
            raise CommandError(f"a snapshot button press says {PRESS}")
        return int(camera_text)

    def config_camera(self, topic: str) -> int | None:
        """The camera a retained discovery config of this node belongs to, if it is one."""
        parts = topic.split("/")
        if len(parts) != 5 or parts[0] != self.discovery_prefix or parts[2] != self.prefix:
            return None
        if parts[4] != "config" or not (found := _OBJECT_ID.fullmatch(parts[3])):
            return None
        return int(found[1]) if found[2] in ENTITY_KEYS else None


def _device(camera: Camera) -> dict[str, Any]:
    mac = camera.mac.lower()
    device: dict[str, Any] = {
        "identifiers": [f"fakecloud_{_mac_id(mac)}"],
        "connections": [["mac", mac]],
        "name": camera.name or f"NetCam {mac[-8:]}",
        "manufacturer": "Belkin",
        "model": str(camera.properties.get("model") or "NetCam"),
    }
    if camera.firmware:
        device["sw_version"] = camera.firmware
    return device


def _mac_id(mac: str) -> str:
    return "".join(ch for ch in mac.lower() if ch in "0123456789abcdef")


def _on_off(value: bool) -> bytes:
    return (ON if value else OFF).encode()


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
