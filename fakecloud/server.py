"""Assemble and run every configured part of fakecloud."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from fakecloud.broker.broker import Broker
from fakecloud.capture.log import CaptureLog
from fakecloud.catalogue import load_catalogue
from fakecloud.certs import ensure_authority
from fakecloud.core.collector import settle_startup_objects
from fakecloud.core.config import Settings
from fakecloud.core.login_guard import LoginLimits
from fakecloud.core.memory import keep_returning_memory
from fakecloud.dns.part import DnsPart
from fakecloud.frontdoor.budgets import (
    ConnectionBudget,
    descriptor_budget,
    raise_descriptor_limit,
    throttle_accept_errors,
)
from fakecloud.frontdoor.connection_info import format_address
from fakecloud.frontdoor.part import FrontDoorPart
from fakecloud.integrations.metrics import MetricsPart
from fakecloud.integrations.mqtt.part import mqtt_part
from fakecloud.integrations.webhooks.part import webhooks_part
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs import MediaOutputs
from fakecloud.media.outputs.webrtc import WebRtcLimits
from fakecloud.media.rtsp.access import RtspAccess
from fakecloud.media.rtsp.server import RtspPart
from fakecloud.media.viewer import CameraViewer
from fakecloud.motion.events import EventLog
from fakecloud.motion.part import MotionPart
from fakecloud.onvif.part import OnvifPart
from fakecloud.recording.part import RecordingPart
from fakecloud.relay.part import RelayPart
from fakecloud.runtime import Runtime
from fakecloud.sim.demo_part import DemoPart
from fakecloud.store.async_store import AsyncStore
from fakecloud.store.store import Store
from fakecloud.web.app import create_app
from fakecloud.web.asgi import AsgiProtocolFactory
from fakecloud.web.http_part import HttpPart
from fakecloud.wemo.part import WemoPart

log = logging.getLogger(__name__)


def build_runtime(settings: Settings) -> Runtime:
    """Every configured part, in start order (each one only needs those before it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Security consideration: state, keys and captures are the owner's alone.
    settings.data_dir.chmod(0o700)
    runtime = Runtime(settings, load_catalogue(settings.extra_hostnames))
    services = runtime.services
    capture = CaptureLog(
        settings.captures_dir,
        settings.capture_max_bytes,
        min_free_bytes=settings.capture_min_free_bytes,
    )
    store = AsyncStore(
        Store(settings.database_path), login_limits=LoginLimits.from_settings(settings)
    )
    authority = ensure_authority(settings)
    services.capture, services.store, services.authority = capture, store, authority
    bus = services.bus

    # A relay port that is also a cloud port: the front door takes its TCP side and hands over.
    relay_shares_tcp = settings.relay_port != 0 and settings.relay_port in settings.cloud_ports
    relay = RelayPart(settings, capture, tcp_listener=not relay_shares_tcp, bus=bus)
    broker = Broker(
        settings,
        store,
        capture,
        relay_port=lambda: relay.port,
        # Read at each login, once the front door (made below) has bound its ports.
        broker_port=lambda: settings.broker_port and door.bound_ports.get(settings.broker_port, 0),
        bus=bus,
    )
    hub = MediaHub(linger=settings.viewer_linger)
    outputs = MediaOutputs(
        hub,
        bus=bus,
        video_timeout=settings.video_timeout,
        max_stream_seconds=settings.max_stream_seconds,
        mjpeg_max_fps=settings.mjpeg_max_fps,
        hls_linger=settings.viewer_linger,
        webrtc=WebRtcLimits(
            settings.effective_announce_address,
            settings.webrtc_max_peers,
            settings.webrtc_max_peers_per_camera,
            settings.webrtc_connect_seconds,
        ),
    )
    viewer = CameraViewer(broker, relay, hub, capture, bus=bus)
    services.broker, services.relay = broker, relay
    services.media_hub, services.media_outputs = hub, outputs

    http = AsgiProtocolFactory(create_app(runtime), max_header_bytes=64 * 1024)
    # One budget for every TCP listener, below the descriptor limit (raised by serve()).
    budget = ConnectionBudget(
        descriptor_budget(settings.max_connections), settings.max_connections_per_address
    )
    services.connection_budget = budget
    runtime.parts.append(MetricsPart(runtime))
    if settings.dns_enabled:
        runtime.parts.append(DnsPart(settings, runtime.catalogue, capture))
    runtime.parts += [hub, outputs, relay, broker, viewer]
    # After the viewer: a recorded or watched camera's subscription makes the hub ask it for
    # video at once.
    runtime.parts += [
        RecordingPart(settings, store, hub, bus),
        MotionPart(settings, store, hub, bus),
        EventLog(settings.data_dir, store, outputs, bus),
    ]
    if (webhooks := webhooks_part(runtime)) is not None:
        runtime.parts.append(webhooks)
    rtsp = None
    if settings.rtsp_enabled:
        rtsp = RtspPart(
            settings.bind_address,
            settings.rtsp_port,
            hub,
            RtspAccess(settings, store, hub),
            video_timeout=settings.video_timeout,
        )
        runtime.parts.append(rtsp)
    if (mqtt := mqtt_part(runtime)) is not None:
        runtime.parts.append(mqtt)
    web = HttpPart(
        http,
        settings.bind_address,
        settings.http_port,
        max_connections=settings.http_max_connections,
        budget=budget,
    )
    runtime.parts.append(web)
    if settings.wemo_sensors:
        # After the web part: the sensors' callback is its port, as bound.
        announce = settings.effective_announce_address
        runtime.parts.append(
            WemoPart(
                settings.wemo_sensors, bus, lambda: f"http://{format_address(announce, web.port)}"
            )
        )
    door = FrontDoorPart(
        settings.bind_address,
        settings.listening_ports,
        tls_context=authority.server_context("device"),
        cxnet_handler=broker.handle_connection,
        asgi=http,
        recorder=capture,
        relay_handler=relay.handle_stream if relay_shares_tcp else None,
        idle_timeout=settings.idle_timeout,
        budget=budget,
        extra_hosts=settings.extra_listening_hosts,
    )
    runtime.parts.append(door)
    if settings.onvif_enabled:
        # The ports as bound (the stream and snapshot URLs name them; 0 in settings: "any").
        onvif = OnvifPart(
            settings,
            store,
            bus,
            budget=budget,
            http_port=lambda: web.port,
            rtsp_port=None if rtsp is None else (lambda: rtsp.port),
        )
        runtime.parts.append(onvif)
    return runtime


async def close_services(runtime: Runtime) -> None:
    """Close what outlives the parts: the store last, once nothing can write to it."""
    services = runtime.services
    if services.capture is not None:
        services.capture.close()
    if services.store is not None:
        await services.store.close()


async def start_parts(runtime: Runtime) -> None:
    """Start parts in order; if one cannot start, stop the ones already running and re-raise."""
    started = []
    try:
        for part in runtime.parts:
            await part.start()
            started.append(part)
    except BaseException:
        for part in reversed(started):
            await part.stop()
        raise


async def stop_parts(runtime: Runtime) -> None:
    for part in reversed(runtime.parts):
        try:
            await part.stop()
        except Exception:
            log.exception("stopping %s failed", part.name)


async def serve(
    settings: Settings, stop: asyncio.Event | None = None, *, demo: bool = False
) -> None:
    """Run until SIGINT/SIGTERM (or until `stop` is set); `demo` adds simulated cameras."""
    keep_returning_memory()  # what a flood freed goes back to the system (core/memory.py)
    before, descriptors = raise_descriptor_limit()
    runtime = build_runtime(settings)
    budget = runtime.services.connection_budget
    assert budget is not None  # build_runtime always makes one
    log.info(
        "descriptor limit %d (was %d); connection budget %d in all, %d per address",
        descriptors,
        before,
        budget.total,
        settings.max_connections_per_address,
    )
    if demo:
        runtime.parts.append(DemoPart(runtime))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    throttle_accept_errors(loop)
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await start_parts(runtime)
        settle_startup_objects()  # no long collector pause in a login storm (core/collector.py)
        log.info(
            "fakecloud is running; cameras should be pointed at %s",
            settings.effective_announce_address,
        )
        try:
            await stop.wait()
        finally:
            log.info("shutting down")
            await stop_parts(runtime)
    finally:
        await close_services(runtime)


def run(settings: Settings, *, demo: bool = False) -> None:
    try:
        asyncio.run(serve(settings, demo=demo))
    except KeyboardInterrupt:
        pass
