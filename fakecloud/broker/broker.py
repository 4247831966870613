"""The CXNet broker, a Part: builds the login flow, the session table, command routing and the
connection loop around one shared context, and starts, stops and reports on them.

Protocol facts and their confidence are in docs/protocol.md section 3; docs/broker.md explains the
choices made where the camera's side is unknown (and lists the modules).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fakecloud.broker.context import BrokerContext
from fakecloud.broker.dispatch import ConnectionServer
from fakecloud.broker.login_flow import LoginFlow
from fakecloud.broker.presence import Presence
from fakecloud.broker.recording import BrokerRecording
from fakecloud.broker.routing import (
    BrokerError,
    CameraOfflineError,
    CommandRouter,
    OfferAnswerer,
    PendingReplies,
    PendingReply,
    new_correlation_id,
)
from fakecloud.broker.session import ConnectionInfoLike, Session
from fakecloud.core.config import Settings
from fakecloud.core.events import CameraChanged, EventBus
from fakecloud.core.recording import Recorder
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import encode_properties
from fakecloud.store.protocol import CameraStore

STOP_GRACE = 5.0


class Broker:
    """CXNet sessions for apps and cameras; a Part named "broker"."""

    name = "broker"

    def __init__(
        self,
        settings: Settings,
        store: CameraStore,
        recorder: Recorder | None = None,
        *,
        relay_port: Callable[[], int] | None = None,
        broker_port: Callable[[], int] | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.store = store
        self.recorder = recorder
        # Cameras coming and going are published here (the media viewer re-requests video). A
        # reconnect publishes CameraOnline again without a CameraOffline in between.
        self.bus = bus or EventBus()
        self._context = context = BrokerContext(
            settings, store, self.bus, BrokerRecording(recorder)
        )
        self.counters = context.counters
        self._presence = Presence(store)
        self._pending = PendingReplies()
        self._router = CommandRouter(context, self._presence, self._pending)
        logins = LoginFlow(
            context,
            self._presence,
            # The relay's bound port once it runs (settings may say 0: "any free port").
            relay_port=relay_port or (lambda: settings.relay_port),
            # The second-hop port the front door really bound (0 when it could not: a redirect
            # must never name a port nobody listens on).
            broker_port=broker_port or (lambda: settings.broker_port),
        )
        self._connections = ConnectionServer(context, self._presence, logins, self._router)

    @property
    def settings(self) -> Settings:
        return self._context.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        # Every part of the broker reads the shared context, so a replacement reaches them all.
        self._context.settings = settings

    @property
    def offer_answerer(self) -> OfferAnswerer | None:
        """Called for every app command before it is forwarded (the relay's offer)."""
        return self._router.offer_answerer

    @offer_answerer.setter
    def offer_answerer(self, answerer: OfferAnswerer | None) -> None:
        self._router.offer_answerer = answerer

    # -- Part ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._connections.stopping = False
        # Nothing is connected yet, whatever the last run left behind.
        await self.store.mark_all_offline()

    async def stop(self) -> None:
        self._connections.stopping = True
        for session in list(self._presence.sessions.values()):
            session.writer.close()
        handlers = list(self._connections.handlers)
        if handlers:
            _, late = await asyncio.wait(handlers, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
        await self.store.mark_all_offline()

    def status(self) -> dict[str, Any]:
        roles = [session.role for session in self._presence.sessions.values()]
        return {
            "sessions": len(roles),
            "cameras_online": len(self._presence.camera_sessions),
            "apps_online": roles.count("app"),
            **self.counters,
            "store_writes": dict(self.store.write_counters),
        }

    # -- what the front door, the web app and the media viewer use ------------------------------

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfoLike
    ) -> None:
        """Serve one CXNet connection until it closes, falls silent or misbehaves."""
        await self._connections.handle_connection(reader, writer, info)

    def login_results(self) -> dict[tuple[str, str], int]:
        """Logins so far by (role, result): result is ok, refused or limited."""
        return dict(self._context.logins)

    def online_camera_ids(self) -> list[int]:
        return list(self._presence.camera_sessions)

    def camera_session(self, camera_id: int) -> Session | None:
        return self._presence.camera_sessions.get(camera_id)

    async def camera_changed(self, camera_id: int) -> None:
        """Re-read a camera whose owner changed (an approval): its live session, if any, now
        speaks for the new owner without logging in again."""
        await self._presence.camera_changed(camera_id)
        self.bus.publish(CameraChanged(camera_id))

    async def send_command(
        self,
        camera_id: int,
        command: str,
        properties: dict[str, str] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - the caller's contract (web app, media viewer)
        correlation: str | None = None,
    ) -> Frame:
        """Send a command to a camera as an app would and return its first answer.

        `correlation` reuses a CorrelationID: a stop carries its request's, which is how Tend
        cameras free the viewer slot (docs/protocol.md section 9)."""
        target = self._presence.camera_sessions.get(camera_id)
        if target is None or target.camera is None:
            raise CameraOfflineError(f"camera {camera_id} is not online")
        correlation = correlation or new_correlation_id()
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending.remember(correlation, PendingReply(camera_id, 0.0, future=future))
        options = {
            "CX_DSTID": f"{camera_id}:{target.camera.mac}",
            "CorrelationID": correlation,
            **(properties or {}),
        }
        frame = target.frame(
            Action.COMMAND, options=encode_properties(options), body=command.encode(), to=camera_id
        )
        try:
            if not target.send(frame):
                raise CameraOfflineError(f"camera {camera_id} went offline")
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise BrokerError(f"camera {camera_id} did not answer within {timeout:g} s") from None
        finally:
            self._pending.forget(correlation)
