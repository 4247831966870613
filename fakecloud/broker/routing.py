"""Command routing: which camera a CX_DSTID names, and whose answer goes back to whom."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from fakecloud.broker.connection import send_error
from fakecloud.broker.context import BrokerContext
from fakecloud.broker.login import normalise_mac
from fakecloud.broker.presence import Presence
from fakecloud.broker.session import Session
from fakecloud.core.events import CommandRouted, Motion
from fakecloud.net.commands import Command, CommandError, parse_command
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import Properties, PropertiesError, encode_properties
from fakecloud.net.properties import parse_properties as parse_props
from fakecloud.store.models import Camera

log = logging.getLogger(__name__)

# How long a command's CorrelationID routes answers back to its asker, and how many are kept.
REPLY_WINDOW = 60.0
MAX_PENDING_REPLIES = 10_000


class BrokerError(Exception):
    """A command fakecloud itself sent could not be delivered."""


class CameraOfflineError(BrokerError):
    pass


class OfferAnswerer(Protocol):
    """Answers an app's media command itself (the relay's offer); True when it has answered."""

    async def __call__(
        self, asker: Session, frame: Frame, command: Command, target: Session
    ) -> bool: ...


def new_correlation_id() -> str:
    """A CorrelationID for a command fakecloud itself originates."""
    return f"FC-{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class Destination:
    """What a CX_DSTID names: K sends `<id>:<mac>`, R the camera alias (`<account alias>:<MAC>`),
    others `<id>` or the alias a camera reported. `camera_id`/`mac` are set when the text has
    the id form; `text` is always tried as an alias too."""

    text: str
    camera_id: int | None = None
    mac: str | None = None


def parse_destination(text: str | None) -> Destination:
    """Read a CX_DSTID; never raises (an unreadable one simply names no camera)."""
    text = (text or "").strip()
    head, separator, rest = text.partition(":")
    if not (head.isascii() and head.isdigit() and len(head) < 20):
        return Destination(text)
    if not separator:
        return Destination(text, int(head))
    mac = normalise_mac(rest)
    return Destination(text, int(head), mac) if mac else Destination(text)


@dataclass(slots=True)
class PendingReply:
    camera_id: int
    expires: float
    asker: Session | None = None
    future: asyncio.Future[Frame] | None = None


class PendingReplies:
    """Commands awaiting a camera's answer, by CorrelationID: bounded in number and time."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, PendingReply] = OrderedDict()

    def get(self, correlation: str) -> PendingReply | None:
        return self._pending.get(correlation)

    def remember(self, correlation: str, pending: PendingReply) -> None:
        now = asyncio.get_running_loop().time()
        pending.expires = now + REPLY_WINDOW
        while self._pending and (
            len(self._pending) >= MAX_PENDING_REPLIES
            or next(iter(self._pending.values())).expires < now
        ):
            self._pending.popitem(last=False)
        self._pending[correlation] = pending
        self._pending.move_to_end(correlation)

    def forget(self, correlation: str) -> None:
        self._pending.pop(correlation, None)

    def forget_asker(self, asker: Session) -> None:
        """An app left: answers to its commands have nobody to go to."""
        for correlation, pending in list(self._pending.items()):
            if pending.asker is asker:
                del self._pending[correlation]

    def camera_left(self, camera_id: int) -> None:
        """A camera went offline: whoever in fakecloud waits on its answer hears so now."""
        for pending in self._pending.values():
            if pending.camera_id == camera_id and pending.future and not pending.future.done():
                pending.future.set_exception(CameraOfflineError(f"camera {camera_id} left"))


def owned_by(camera: Camera, asker: Session) -> bool:
    return camera.owner is not None and camera.owner.casefold() == (asker.login or "").casefold()


class CommandRouter:
    """Routes app commands to their cameras, and the answers back to whoever asked."""

    def __init__(self, context: BrokerContext, presence: Presence, pending: PendingReplies) -> None:
        self.context = context
        self.presence = presence
        self.pending = pending
        # Called for every app command before it is forwarded; True means it answered it
        # itself (the media relay answers require-video-send with its offer).
        self.offer_answerer: OfferAnswerer | None = None

    async def command(self, session: Session, frame: Frame) -> None:
        """A COMMAND frame from a logged-in session: an answer, a camera's own, or a request."""
        try:
            options = parse_props(frame.options)
        except PropertiesError as error:
            note = f"unreadable command options: {error}"
            self.context.recording.frame(session.info, frame, note=note)
            send_error(session, "malformed-command", "the command options could not be read")
            return
        correlation = options.get("CorrelationID")
        if session.role == "camera":
            pending = self.pending.get(correlation or "")
            if pending is not None and pending.camera_id == session.camera_id:
                self._deliver_reply(pending, frame)
            else:
                await self._camera_event(session, frame)
            return
        await self._route_request(session, frame, options, correlation)

    def _deliver_reply(self, pending: PendingReply, frame: Frame) -> None:
        self.context.counters["commands_routed"] += 1
        if pending.future is not None:
            if not pending.future.done():
                pending.future.set_result(frame)
        elif pending.asker is not None:
            asker = pending.asker
            asker.send(asker.frame(frame.action, options=frame.options, body=frame.body, to=0))

    async def _camera_event(self, session: Session, frame: Frame) -> None:
        """A command the camera sent on its own (motion and the like: the vocabulary is [U])."""
        self.context.recording.frame(session.info, frame, note="camera-initiated command")
        if session.camera is None:
            return
        try:
            command = parse_command(frame.body)
        except CommandError:
            return
        args = {"args": list(command.args)}
        await self.context.store.add_event(session.camera.id, command.name, args)
        log.info("camera %s reported %s", session.camera.mac, command.name)
        if "motion" in command.name.casefold():
            # Which names a NetCam sends for motion is [U]; any name saying so counts.
            self.context.bus.publish(Motion(session.camera.id, {"command": command.name}))

    async def _route_request(
        self, session: Session, frame: Frame, options: Properties, correlation: str | None
    ) -> None:
        destination = options.get("CX_DSTID")
        found = self._own_camera_session(session, destination)
        if found is None:
            send_error(
                session, "offline", f"camera {destination or '?'} is not online", correlation
            )
            return
        try:
            command = parse_command(frame.body)
        except CommandError as error:
            send_error(session, "malformed-command", str(error), correlation)
            return
        target, camera = found
        # A direct call, not an event: the relay's offer must answer inside the command path,
        # before the command would be forwarded to the camera.
        answerer = self.offer_answerer
        if answerer is not None and await answerer(session, frame, command, target):
            self._routed(camera, command, session)
            return
        options_block = frame.options
        if not correlation:
            correlation = new_correlation_id()
            options_block = encode_properties([*options, ("CorrelationID", correlation)])
        self.pending.remember(correlation, PendingReply(camera.id, 0.0, asker=session))
        forwarded = target.frame(
            Action.COMMAND, options=options_block, body=frame.body, to=camera.id
        )
        if target.send(forwarded):
            self._routed(camera, command, session)
        else:
            send_error(session, "offline", f"camera {destination} is not online", correlation)

    def _routed(self, camera: Camera, command: Command, asker: Session) -> None:
        self.context.counters["commands_routed"] += 1
        self.context.bus.publish(CommandRouted(camera.id, command.name, asker.login))

    def _own_camera_session(
        self, asker: Session, destination: str | None
    ) -> tuple[Session, Camera] | None:
        """The online camera a CX_DSTID names, with its session, if it belongs to the asker's
        account.

        Security consideration: an app reaches only its own account's cameras, and "not yours"
        reads the same as "not online" (the caller answers both alike)."""
        wanted = parse_destination(destination)
        candidates = self.presence.cameras_named(wanted.text)
        if wanted.camera_id is not None:
            candidates.insert(0, wanted.camera_id)
        for camera_id in candidates:
            target = self.presence.camera_sessions.get(camera_id)
            camera = target.camera if target is not None else None
            if camera is None or not owned_by(camera, asker):
                continue
            by_id = camera_id == wanted.camera_id and wanted.mac in (None, camera.mac)
            if target is not None and (
                by_id or wanted.text in (camera.alias, camera.reported_alias)
            ):
                return target, camera
        return None
