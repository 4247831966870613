"""The MQTT part: keeps a connection to the owner's MQTT broker and mirrors camera life on it.

One task holds the connection: connect (last will: offline), say online, subscribe, publish
every owned camera's discovery and state, then send what the event bus brings until the
connection drops; then wait (bounded exponential backoff) and start over. Nothing here ever
makes a publisher wait: events land in a bounded outbox (fakecloud/integrations/mqtt/outbox.py),
and a slow or absent MQTT broker only delays that outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any

import aiomqtt

from fakecloud.core.events import (
    CameraChanged,
    CameraEvent,
    CameraOffline,
    CameraOnline,
    EventBus,
    Motion,
    RecordingFinished,
    Subscription,
    consume,
)
from fakecloud.integrations.mqtt.discovery import (
    OFFLINE,
    ONLINE,
    CommandError,
    Message,
    Topics,
)
from fakecloud.integrations.mqtt.outbox import Outbox
from fakecloud.integrations.mqtt.url import BrokerAddress
from fakecloud.runtime import Runtime
from fakecloud.store.models import Camera
from fakecloud.store.protocol import CameraStore

log = logging.getLogger(__name__)

QOS = 1  # at least once: discovery and state survive a reconnect mid-publish
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
# How long a camera's motion stays ON after its latest motion event (a new one extends it).
MOTION_HOLD_SECONDS = 10.0
# Security consideration: anyone who may publish on the MQTT broker can press the snapshot
# button; one snapshot per camera at a time and a few in all keep that from costing more.
MAX_SNAPSHOTS_AT_ONCE = 4
# Inbound messages waiting to be read (retained configs at connect, button presses).
MAX_INBOUND_QUEUE = 1000
MAX_COMMAND_BYTES = 64
OFFLINE_TIMEOUT = 2.0  # seconds a stopping server waits for its `offline` to be acknowledged
CANCEL_ROUNDS = 5

TakeSnapshot = Callable[[int], Awaitable[bytes]]


class MqttPart:
    name = "mqtt"

    def __init__(
        self,
        address: BrokerAddress,
        topics: Topics,
        store: CameraStore,
        bus: EventBus,
        *,
        online_cameras: Callable[[], Iterable[int]],
        take_snapshot: TakeSnapshot,
        ca_file: str | None = None,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.address = address
        self.topics = topics
        self._store = store
        self._bus = bus
        self._online_cameras = online_cameras
        self._take_snapshot = take_snapshot
        self._ca_file = ca_file
        self._backoff = (first_backoff, max_backoff)
        self.outbox = Outbox()
        self.connected = asyncio.Event()
        self.counters = {"connects": 0, "published": 0, "announced": 0, "withdrawn": 0}
        self.last_error: str | None = None
        self._announced: set[int] = set()
        self._motion_off: dict[int, asyncio.TimerHandle] = {}
        self._snapshots: dict[int, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._events: Subscription | None = None

    async def start(self) -> None:
        self._events = self._bus.subscribe(
            "mqtt", CameraOnline, CameraOffline, CameraChanged, Motion, RecordingFinished
        )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(consume(self._events, self._heard), name="mqtt-events"),
            loop.create_task(self._keep_connected(), name="mqtt-connection"),
        ]
        log.info("MQTT: publishing to %s", self.address.describe())

    async def stop(self) -> None:
        if self._events is not None:
            self._events.close()
        for handle in self._motion_off.values():
            handle.cancel()
        # Patience for the goodbye: the connection says offline (up to OFFLINE_TIMEOUT) first.
        await _cancel([*self._tasks, *self._snapshots.values()], patience=OFFLINE_TIMEOUT + 1)
        self._tasks.clear()

    def status(self) -> dict[str, Any]:
        return {
            "broker": self.address.describe(),
            "connected": self.connected.is_set(),
            "cameras": len(self._announced),
            "waiting": len(self.outbox),
            "dropped": self.outbox.dropped,
            "last_error": self.last_error,
            **self.counters,
        }

    # -- the connection -----------------------------------------------------------------------

    async def _keep_connected(self) -> None:
        first, most = self._backoff
        delay = first
        while True:
            connects = self.counters["connects"]
            try:
                await self._session()
            except aiomqtt.MqttError as error:
                # aiomqtt's messages name the reason code or socket error, never credentials.
                self.last_error = str(error)
                log.warning("MQTT: %s; trying again in %.1f s", error, delay)
            except Exception as error:  # a bug must not end MQTT for good; the backoff bounds it
                self.last_error = repr(error)
                log.exception("MQTT: the connection failed; trying again in %.1f s", delay)
            finally:
                self.connected.clear()
            if self.counters["connects"] != connects:
                delay = first  # it was connected: the broker restarted, try again soon
            await asyncio.sleep(delay)
            delay = min(delay * 2, most)

    async def _session(self) -> None:
        will = aiomqtt.Will(self.topics.availability, OFFLINE, qos=QOS, retain=True)
        client = aiomqtt.Client(
            self.address.host,
            self.address.port,
            username=self.address.username,
            password=self.address.password,
            identifier=f"fakecloud-{self.topics.prefix}",
            will=will,
            tls_context=self._tls_context(),
            max_queued_incoming_messages=MAX_INBOUND_QUEUE,
            keepalive=30,
        )
        async with client:
            self.counters["connects"] += 1
            self.last_error = None
            self._announced.clear()
            log.info("MQTT: connected to %s", self.address.describe())
            await client.subscribe(self.topics.home_assistant_status, qos=QOS)
            await client.subscribe(self.topics.snapshot_commands, qos=QOS)
            await client.subscribe(self.topics.retained_configs, qos=QOS)
            await self._publish(client, Message(self.topics.availability, ONLINE.encode(), True))
            await self._announce_all(client)
            self.connected.set()
            try:
                await _until_one_ends(self._send(client), self._receive(client))
            finally:
                # A clean stop says offline itself: the will only fires on a lost connection.
                with contextlib.suppress(aiomqtt.MqttError, asyncio.CancelledError):
                    availability = self.topics.availability
                    await client.publish(
                        availability, OFFLINE, qos=QOS, retain=True, timeout=OFFLINE_TIMEOUT
                    )

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.address.tls:
            return None
        return ssl.create_default_context(cafile=self._ca_file)

    async def _publish(self, client: aiomqtt.Client, message: Message) -> None:
        await client.publish(message.topic, message.payload, qos=QOS, retain=message.retain)
        self.counters["published"] += 1

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            message = await self.outbox.get()
            try:
                await self._publish(client, message)
            except aiomqtt.MqttError:
                self.outbox.put_back(message)
                raise

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            topic = message.topic.value
            if topic == self.topics.home_assistant_status:
                if payload == ONLINE.encode():
                    log.info("MQTT: Home Assistant came online; publishing discovery again")
                    await self._announce_all(client)
            elif (camera_id := self.topics.config_camera(topic)) is not None:
                if payload:
                    await self._withdraw_if_gone(client, camera_id)
            elif len(payload) <= MAX_COMMAND_BYTES:
                try:
                    camera_id = self.topics.snapshot_command(topic, payload)
                except CommandError as error:
                    log.info("MQTT: ignored a message on %s: %s", topic[:200], error)
                    continue
                self._snapshot_soon(camera_id, asked="the snapshot button")

    # -- discovery ----------------------------------------------------------------------------

    async def _announce_all(self, client: aiomqtt.Client) -> None:
        """Every owned camera's discovery and state; withdraw the ones forgotten since."""
        cameras = [camera for camera in await self._store.list_cameras() if camera.owner]
        online = set(self._online_cameras())
        for gone in self._announced - {camera.id for camera in cameras}:
            await self._withdraw(client, gone)
        for camera in cameras:
            for message in self._describe(camera, online=camera.id in online):
                await self._publish(client, message)

    def _describe(self, camera: Camera, *, online: bool) -> list[Message]:
        self._announced.add(camera.id)
        self.counters["announced"] += 1
        return [*self.topics.announce(camera), *self.topics.presence(camera, online=online)]

    async def _withdraw_if_gone(self, client: aiomqtt.Client, camera_id: int) -> None:
        """A retained config of this node's: removed when its camera is no longer owned."""
        if camera_id in self._announced:
            return
        camera = await self._store.get_camera(camera_id)
        if camera is None or not camera.owner:
            await self._withdraw(client, camera_id)

    async def _withdraw(self, client: aiomqtt.Client, camera_id: int) -> None:
        for message in self._withdrawal(camera_id):
            await self._publish(client, message)

    def _withdrawal(self, camera_id: int) -> list[Message]:
        log.info("MQTT: camera %d is no longer owned; removing its device", camera_id)
        self._announced.discard(camera_id)
        self.counters["withdrawn"] += 1
        return self.topics.withdraw(camera_id)

    # -- camera life --------------------------------------------------------------------------

    async def _heard(self, event: CameraEvent) -> None:
        if isinstance(event, CameraOnline | CameraOffline):
            camera = await self._store.get_camera(event.camera_id)
            if camera is None or not camera.owner:
                return
            online = isinstance(event, CameraOnline)
            messages = (
                self._describe(camera, online=online)
                if camera.id not in self._announced
                else self.topics.presence(camera, online=online)
            )
            for message in (*messages, self.topics.last_seen(camera.id, datetime.now(UTC))):
                self.outbox.put(message)
        elif isinstance(event, CameraChanged):
            await self._changed(event.camera_id)
        elif isinstance(event, Motion):
            self._motion(event.camera_id, event.detail.get("state"))
        elif isinstance(event, RecordingFinished):
            self.outbox.put(self.topics.recording(event.camera_id, event.path, event.seconds))

    async def _changed(self, camera_id: int) -> None:
        """A camera approved is announced now (not at its next login); one released leaves."""
        camera = await self._store.get_camera(camera_id)
        if camera is not None and camera.owner:
            online = camera_id in set(self._online_cameras())
            messages = self._describe(camera, online=online)
        elif camera_id in self._announced:
            messages = self._withdrawal(camera_id)
        else:
            return
        for message in messages:
            self.outbox.put(message)

    def _motion(self, camera_id: int, state: object) -> None:
        """A detector says where motion starts and ends (`state`); a camera's own motion
        event is a moment, so it shows ON for MOTION_HOLD_SECONDS (a new one extends it)."""
        if (pending := self._motion_off.pop(camera_id, None)) is not None:
            pending.cancel()
        if state == "end":
            self._motion_ended(camera_id)
            return
        self.outbox.put(self.topics.motion(camera_id, moving=True))
        if state != "start":
            self._motion_off[camera_id] = asyncio.get_running_loop().call_later(
                MOTION_HOLD_SECONDS, self._motion_ended, camera_id
            )
        self._snapshot_soon(camera_id, asked="motion")

    def _motion_ended(self, camera_id: int) -> None:
        self._motion_off.pop(camera_id, None)
        self.outbox.put(self.topics.motion(camera_id, moving=False))

    def _snapshot_soon(self, camera_id: int, *, asked: str) -> None:
        if camera_id in self._snapshots or len(self._snapshots) >= MAX_SNAPSHOTS_AT_ONCE:
            return
        task = asyncio.get_running_loop().create_task(
            self._snapshot(camera_id, asked), name=f"mqtt-snapshot-{camera_id}"
        )
        self._snapshots[camera_id] = task
        task.add_done_callback(lambda _: self._snapshots.pop(camera_id, None))

    async def _snapshot(self, camera_id: int, asked: str) -> None:
        camera = await self._store.get_camera(camera_id)
        if camera is None or not camera.owner:
            log.info(
                "MQTT: %s asked for a snapshot of camera %d, which nobody owns", asked, camera_id
            )
            return
        try:
            jpeg = await self._take_snapshot(camera_id)
        except Exception as error:  # any output failure: logged, the next press tries again
            log.warning("MQTT: snapshot of camera %d for %s failed: %s", camera_id, asked, error)
            return
        self.outbox.put(self.topics.snapshot(camera_id, jpeg))


async def _until_one_ends(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run the jobs until the first one ends (a lost connection); cancel the rest, re-raise."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await _cancel(tasks, patience=0.1)
    for task in tasks:
        if task.done() and not task.cancelled() and (error := task.exception()) is not None:
            raise error


async def _cancel(tasks: list[asyncio.Task[None]], *, patience: float) -> None:
    """Cancel the tasks and wait for them to end. Python 3.11's asyncio.wait_for (which aiomqtt
    awaits a publish's acknowledgement with) loses a cancellation that arrives just as the
    acknowledgement does, and the task carries on; so cancel again after `patience`, a bounded
    number of times."""
    for _ in range(CANCEL_ROUNDS):
        if not (running := [task for task in tasks if not task.done()]):
            return
        for task in running:
            task.cancel()
        await asyncio.wait(running, timeout=patience)
    log.warning("MQTT: %d tasks did not end when cancelled", sum(not t.done() for t in tasks))


def mqtt_part(runtime: Runtime) -> MqttPart | None:
    """The part FAKECLOUD_MQTT_URL asks for (None when unset), over the runtime's services."""
    settings, services = runtime.settings, runtime.services
    address = settings.mqtt_broker
    if address is None:
        return None
    broker, outputs, store = services.broker, services.media_outputs, services.store
    assert broker is not None and outputs is not None and store is not None  # built before
    return MqttPart(
        address,
        Topics(settings.mqtt_topic_prefix, settings.mqtt_discovery_prefix),
        store,
        services.bus,
        online_cameras=broker.online_camera_ids,
        take_snapshot=outputs.snapshot,
        ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
    )
