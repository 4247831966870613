"""The relay's offer for the phone app's viewers, answered inside the broker's command path.

Each app's relay session becomes a watcher of the camera's `Audience`, which tells the camera to
start and stop (docs/viewer.md, "Real apps").
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fakecloud.broker import Session
from fakecloud.media.audience import Audience
from fakecloud.net.commands import Command, format_command
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import PropertiesError, encode_properties, parse_properties
from fakecloud.relay import Allocation, RelayError, RelayPart
from fakecloud.relay.sessions import EndReason, MediaKind
from fakecloud.store.models import Camera

log = logging.getLogger(__name__)

# Require CorrelationIDs remembered for the stops that name them (oldest forgotten first).
MAX_TRACKED_REQUESTS = 4096


@dataclass(frozen=True, slots=True)
class _MediaRequest:
    kind: MediaKind
    offer_action: Action
    accept_command: str


MEDIA_REQUESTS = {
    "require-video-send": _MediaRequest("video", Action.VIDEOMID, "accept-video-receive"),
    "require-audio-send": _MediaRequest("audio", Action.CHATMID, "accept-audio-receive"),
}
MEDIA_STOPS: dict[str, MediaKind] = {
    "stop-video-receive": "video",
    "stop-audio-receive": "audio",
}
MEDIA_STARTS: dict[str, MediaKind] = {
    "start-video-receive": "video",
    "start-audio-receive": "audio",
}
# Every app command about a media stream: none of them reaches the camera (Audience does).
MEDIA_COMMAND_KINDS: dict[str, MediaKind] = {
    **{name: request.kind for name, request in MEDIA_REQUESTS.items()},
    **MEDIA_STARTS,
    **MEDIA_STOPS,
}


class RelayOffers:
    """The broker's offer answerer: the relay's offer for an app's video or audio request.

    The app gets the offer both ways (docs/protocol.md section 3: an action-438/436 frame whose
    properties block is `rtp://<announce>:<relay port>`, and a 411 whose body starts
    `accept-video-receive|`/`accept-audio-receive|` with the same properties block). The app's
    require/start/stop commands do not reach the camera: they change who watches (`Audience`),
    which tells the camera. Each is answered `ack|<command>|<camera id>|` with the app's
    CorrelationID, as the simulated camera answers (no public client waits for an answer).
    """

    def __init__(self, relay: RelayPart, audience: Audience) -> None:
        self._relay = relay
        self._audience = audience
        # The app connections watching through each relay session (one account's apps that
        # register with the same id share one).
        self._watchers: dict[Allocation, set[Session]] = {}
        # The CorrelationID of each require: the stop that carries it names that session.
        self._requests: OrderedDict[str, tuple[Allocation, Session]] = OrderedDict()
        self.counters = {"offers": 0, "releases": 0, "byes": 0, "idle": 0, "failures": 0}

    async def __call__(
        self, asker: Session, frame: Frame, command: Command, target: Session
    ) -> bool:
        kind = MEDIA_COMMAND_KINDS.get(command.name)
        if target.camera is None or not asker.login or kind is None:
            return False
        try:
            correlation = parse_properties(frame.options).get("CorrelationID")
        except PropertiesError:
            correlation = None
        request = MEDIA_REQUESTS.get(command.name)
        if request is not None:
            self._offer(asker, target, target.camera, request, command, correlation)
        elif command.name in MEDIA_STOPS:
            self._stop(asker, target.camera.id, kind, correlation)
        # start-*-receive changes nothing: the camera was asked when the first watcher came.
        options = encode_properties({"CorrelationID": correlation}) if correlation else b""
        body = format_command("ack", command.name, str(target.camera.id)).encode()
        asker.send(asker.frame(Action.COMMAND, options=options, body=body, to=0))
        return True

    def _offer(
        self,
        asker: Session,
        target: Session,
        camera: Camera,
        request: _MediaRequest,
        command: Command,
        correlation: str | None,
    ) -> None:
        login = asker.login or ""
        # R registers as `V_<the alias its login reply gave it>` and names the camera by its
        # alias; K names the camera id twice.
        own = asker.reply_alias or login
        # Security consideration: a per-session alias (Settings.session_aliases) is the
        # session's only viewer id, and an app that names it in its request (R) holds this
        # login reply, so only sockets naming it may join. Without one, as before: the
        # account alias and the login, which are not secret.
        secret = asker.session_alias is not None
        try:
            allocation = self._relay.allocate(
                camera.id,
                request.kind,
                own,
                camera_host=target.peer_host,
                # Security consideration: only the app's own host may register for its session.
                viewer_host=asker.peer_host,
                camera_aliases=[alias for alias in (camera.alias, camera.reported_alias) if alias],
                viewer_aliases=() if secret else [login],
                requires_viewer_id=secret and command.args[:1] == (asker.session_alias,),
                on_end=self._ended,
            )
        except (RelayError, ValueError) as error:
            self.counters["failures"] += 1
            log.warning("no relay offer for %s: %s", asker.describe(), error)
            return
        askers = self._watchers.setdefault(allocation, set())
        first = not askers
        askers.add(asker)
        if correlation:
            self._requests[correlation] = (allocation, asker)
            while len(self._requests) > MAX_TRACKED_REQUESTS:
                self._requests.popitem(last=False)
        self.counters["offers"] += 1
        offer = allocation.offer_url.encode("ascii")
        asker.send(asker.frame(request.offer_action, options=offer, body=b"", to=0))
        accept = format_command(request.accept_command, str(camera.id)).encode()
        asker.send(asker.frame(Action.COMMAND, options=offer, body=accept, to=0))
        if first:
            self._audience.watch(camera.id, request.kind, allocation)

    def _stop(
        self, asker: Session, camera_id: int, kind: MediaKind, correlation: str | None
    ) -> None:
        """The stop names its session by the require's CorrelationID (K); R sends a fresh one,
        so otherwise it is this connection's own session on that stream."""
        allocation, leaving = self._requests.get(correlation or "", (None, asker))
        if allocation is None or (allocation.camera_id, allocation.kind) != (camera_id, kind):
            leaving = asker
            allocation = next(
                (
                    candidate
                    for candidate, askers in self._watchers.items()
                    if (candidate.camera_id, candidate.kind) == (camera_id, kind)
                    and asker in askers
                ),
                None,
            )
        askers = self._watchers.get(allocation) if allocation is not None else None
        if allocation is None or askers is None:
            return
        askers -= {leaving, asker}
        if not askers:
            self._relay.release(allocation)
            self.counters["releases"] += 1
            self._forget(allocation)

    def _ended(self, allocation: Allocation, reason: EndReason) -> None:
        """The relay ended a session by itself: an RTCP BYE, or its viewer fell silent."""
        if allocation in self._watchers:
            self.counters["byes" if reason == "bye" else "idle"] += 1
            self._forget(allocation)

    def _forget(self, allocation: Allocation) -> None:
        self._watchers.pop(allocation, None)
        for correlation in [c for c, (a, _) in self._requests.items() if a == allocation]:
            del self._requests[correlation]
        self._audience.unwatch(allocation.camera_id, allocation.kind, allocation)

    def status(self) -> dict[str, Any]:
        return {"sessions": len(self._watchers), **self.counters}
