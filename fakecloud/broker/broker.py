"""The CXNet broker: logins, keepalives, command routing and camera presence.

Protocol facts and their confidence are in docs/protocol.md section 3; docs/broker.md explains the
choices made where the camera's side is unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fakecloud.broker.login import LoginRequest, normalise_mac, read_login
from fakecloud.broker.redirects import (
    RETURN_HOLD_OFF,
    CredentialFingerprints,
    RedirectMemory,
    ReturnPaths,
)
from fakecloud.broker.session import ConnectionInfoLike, Session, new_session_alias
from fakecloud.core.config import Settings
from fakecloud.core.events import (
    CameraOffline,
    CameraOnline,
    CameraPending,
    CommandRouted,
    EventBus,
    Motion,
    RefusedLogin,
)
from fakecloud.core.login_guard import LoginRefused
from fakecloud.core.netinfo import client_key
from fakecloud.core.rates import KeyedTokenBuckets, TokenBucket
from fakecloud.core.recording import Recorder
from fakecloud.net.commands import Command, CommandError, parse_command
from fakecloud.net.cxnet import (
    SESSION_SIZE,
    Action,
    CXNetError,
    Frame,
    FrameDecoder,
    encode_frame,
)
from fakecloud.net.properties import Properties, PropertiesError, encode_properties
from fakecloud.net.properties import parse_properties as parse_props
from fakecloud.store.models import Account, Camera
from fakecloud.store.protocol import CameraStore
from fakecloud.store.store import identity_proves, unchanged_by_upsert

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
# A connection must log in within this many seconds of connecting, however it spreads its bytes
# (capped by Settings.idle_timeout).
LOGIN_TIMEOUT = 30.0
# Frames tolerated (and recorded) before a login; an unknown client gets room to show itself.
MAX_FRAMES_BEFORE_LOGIN = 32
# How long a command's CorrelationID routes answers back to its asker, and how many are kept.
REPLY_WINDOW = 60.0
MAX_PENDING_REPLIES = 10_000
# A redirect hint about DNS is logged at most this often (seconds).
RETURN_HINT_INTERVAL = 60.0
# Logins refused by the login limits are logged at most this often (seconds).
LIMITED_LOG_INTERVAL = 60.0
# The NetCam's cloud record lists local port 9490 (docs/protocol.md section 5).
DEFAULT_CAMERA_LPORT = 9490
STOP_GRACE = 5.0
# A refused claim on a camera becomes one of its events at most this often (seconds).
CLAIM_EVENT_INTERVAL = 10.0
# New (pending) cameras one client address may introduce: a burst as big as a household's
# cameras after a power cut behind one NAT, then one a minute.
NEW_CAMERAS_BURST = 16
NEW_CAMERAS_PER_SECOND = 1 / 60
MAX_CLAIMS_NOTED = 4096
CLAIM_EVENT = "claim-refused"


class OfferAnswerer(Protocol):
    """Answers an app's media command itself (the relay's offer); True when it has answered."""

    async def __call__(
        self, asker: Session, frame: Frame, command: Command, target: Session
    ) -> bool: ...


def new_correlation_id() -> str:
    """A CorrelationID for a command fakecloud itself originates."""
    return f"FC-{secrets.token_hex(8)}"


class Hop(enum.Enum):
    """What a login is in the redirect dance, and so what it is answered."""

    FIRST = "redirect"  # a redirect and nothing else
    RETURN = "session"  # the session reply
    # Maybe a return, maybe a new client at the same moment (the fallback memory cannot tell):
    # the session reply plus `redirectHost` only. K, new, follows the name and takes the session
    # on its next hop; K returning takes the session (it reads `sid` after a redirect); R reads
    # only `1=` as a redirect, so it takes the session at once.
    UNSURE = "session and redirect host"


class BrokerError(Exception):
    """A command fakecloud itself sent could not be delivered."""


class CameraOfflineError(BrokerError):
    pass


class _TooManyNewCameras(Exception):
    """Internal: this address made more new (pending) cameras than any household would."""


class _ForeignCamera(Exception):
    """Internal: a login names a camera it may not speak for (`reason` is for the owner)."""

    def __init__(self, camera: Camera, reason: str) -> None:
        super().__init__(reason)
        self.camera = camera
        self.reason = reason


class _CloseConnection(Exception):
    """Internal: stop serving this connection (the reason has been logged or answered)."""


@dataclass(slots=True)
class _PendingReply:
    camera_id: int
    expires: float
    asker: Session | None = None
    future: asyncio.Future[Frame] | None = None


@dataclass(frozen=True, slots=True)
class _Found:
    """A camera record a login already read (`camera` None: it names no known camera)."""

    camera: Camera | None


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
        self.settings = settings
        # The relay's bound port once it runs (settings may say 0: "any free port").
        self.relay_port = relay_port or (lambda: settings.relay_port)
        self.store = store
        self.recorder = recorder
        # Called for every app command before it is forwarded; True means it answered it
        # itself (the media relay answers require-video-send with its offer).
        self.offer_answerer: OfferAnswerer | None = None
        # Cameras coming and going are published here (the media viewer re-requests video). A
        # reconnect publishes CameraOnline again without a CameraOffline in between.
        self.bus = bus or EventBus()
        self._sessions: dict[bytes, Session] = {}
        self._camera_sessions: dict[int, Session] = {}
        self._pending: OrderedDict[str, _PendingReply] = OrderedDict()
        # Online cameras by alias (the cloud's and the one they reported), for CX_DSTID.
        self._aliases: dict[str, set[int]] = {}
        # The second-hop port the front door really bound (0 when it could not: a redirect
        # must never name a port nobody listens on).
        self.broker_port = broker_port or (lambda: settings.broker_port)
        self._redirect_memory = RedirectMemory(RETURN_HOLD_OFF if settings.broker_port else 0.0)
        self._fingerprints = CredentialFingerprints()
        self._claims_noted: dict[int, float] = {}
        self._new_cameras = KeyedTokenBuckets(NEW_CAMERAS_PER_SECOND, NEW_CAMERAS_BURST)
        self._return_hint_logged = float("-inf")
        self._limited_logged = float("-inf")
        self._handlers: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.counters = {
            "logins_ok": 0,
            "logins_failed": 0,
            "logins_limited": 0,
            "redirects": 0,
            "commands_routed": 0,
            "malformed_frames": 0,
            "frames_dropped": 0,
        }

    # -- Part ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        # Nothing is connected yet, whatever the last run left behind.
        await self.store.mark_all_offline()

    async def stop(self) -> None:
        self._stopping = True
        for session in list(self._sessions.values()):
            session.writer.close()
        handlers = list(self._handlers)
        if handlers:
            _, late = await asyncio.wait(handlers, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
        await self.store.mark_all_offline()

    def status(self) -> dict[str, Any]:
        roles = [session.role for session in self._sessions.values()]
        return {
            "sessions": len(roles),
            "cameras_online": len(self._camera_sessions),
            "apps_online": roles.count("app"),
            **self.counters,
            "store_writes": dict(self.store.write_counters),
        }

    # -- what the web app and the media viewer use ----------------------------------------------

    def online_camera_ids(self) -> list[int]:
        return list(self._camera_sessions)

    def camera_session(self, camera_id: int) -> Session | None:
        return self._camera_sessions.get(camera_id)

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
        target = self._camera_sessions.get(camera_id)
        if target is None or target.camera is None:
            raise CameraOfflineError(f"camera {camera_id} is not online")
        correlation = correlation or new_correlation_id()
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._remember(correlation, _PendingReply(camera_id, 0.0, future=future))
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
            self._pending.pop(correlation, None)

    # -- connections ------------------------------------------------------------------------------

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfoLike
    ) -> None:
        """Serve one CXNet connection until it closes, falls silent or misbehaves."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        settings = self.settings
        # Security consideration: until it logs in, a connection may buffer one login-sized
        # frame, not max_request_bytes (a thousand silent connections would hold a GiB).
        decoder = FrameDecoder(
            max_body=settings.max_request_bytes, max_frame=settings.max_login_frame_bytes
        )
        loop_time, rate = asyncio.get_running_loop().time, settings.session_frame_rate
        state = _ConnectionState(
            info,
            writer,
            login_deadline=loop_time() + min(LOGIN_TIMEOUT, settings.idle_timeout),
            frame_budget=TokenBucket(rate, settings.session_frame_burst, loop_time),
            flood_budget=TokenBucket(rate, settings.session_flood_frames, loop_time),
            reader=reader,
        )
        try:
            while not self._stopping:
                data = await self._read(reader, state)
                if not data:
                    break
                try:
                    frames = decoder.feed(data)
                except CXNetError as error:
                    self._malformed(info, data, str(error))
                    break
                for frame in frames:
                    await self._dispatch(frame, state)
                if state.session is not None:
                    decoder.max_frame = None
        except _CloseConnection:
            pass
        except (ConnectionError, OSError) as error:
            log.debug("connection %s ended: %s", info.id, error)
        finally:
            if state.session is not None:
                await self._end_session(state.session, state.end_reason)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    async def _read(self, reader: asyncio.StreamReader, state: _ConnectionState) -> bytes:
        loop = asyncio.get_running_loop()
        if state.session is None:
            # Security consideration: one deadline for the whole login, not one per read, so a
            # client trickling a byte at a time cannot stay unauthenticated for long.
            deadline, chunk = state.login_deadline, self.settings.max_login_frame_bytes
            why = "did not log in in time"
        else:
            deadline, chunk = loop.time() + self.settings.keepalive_timeout, READ_CHUNK
            why = f"silent for {self.settings.keepalive_timeout:g} s"
        try:
            async with asyncio.timeout_at(deadline):
                data = await reader.read(chunk)
        except TimeoutError:
            state.end_reason = why
            return b""
        if not data:
            state.end_reason = "connection closed"
        return data

    async def _dispatch(self, frame: Frame, state: _ConnectionState) -> None:
        session = state.session
        if session is not None and not self._within_frame_rate(session, state):
            return
        if frame.action == Action.LOGIN:
            if session is not None:
                self._send_error(session, "already-logged-in", "this connection is logged in")
                return
            state.session = await self._login(frame, state)
            state.info.mark_authenticated()  # the front door's budget never evicts it now
            return
        if session is None:
            self._record_frame(state.info, frame, note="before login")
            state.frames_before_login += 1
            if (
                self.settings.login_policy == "strict"
                or state.frames_before_login > MAX_FRAMES_BEFORE_LOGIN
            ):
                raise _CloseConnection
            return
        session.header = frame
        if frame.action == Action.KEEPALIVE:
            session.send(session.frame(Action.KEEPALIVE, options=b"", body=b"", to=0))
            if session.camera is not None:
                # Written behind and coalesced by the store: a keepalive never waits on disk.
                self.store.camera_seen(session.camera.id)
        elif frame.action == Action.COMMAND:
            await self._command(session, frame)
        else:
            self._record_frame(session.info, frame, note=f"unhandled from {session.role}")

    def _within_frame_rate(self, session: Session, state: _ConnectionState) -> bool:
        """Security consideration: a session's frames are rate-limited (a token bucket); excess
        frames are dropped and counted, and a session that keeps flooding far beyond the rate is
        closed. A client keeping to the rate (K keepalives every 20 s) never notices."""
        if state.frame_budget.take():
            return True
        self.counters["frames_dropped"] += 1
        state.frames_dropped += 1
        if not state.flood_budget.take():
            log.warning(
                "closing %s: %d frames dropped over the rate of %g per second",
                session.describe(),
                state.frames_dropped,
                self.settings.session_frame_rate,
            )
            state.end_reason = "frame flood"
            raise _CloseConnection
        return False

    def _malformed(self, info: ConnectionInfoLike, data: bytes, error: str) -> None:
        self.counters["malformed_frames"] += 1
        log.warning("closing %s from %s: malformed CXNet frame (%s)", info.id, info.peer[0], error)
        self._record("frame", info, data=data[:4096], error=error)

    # -- login ------------------------------------------------------------------------------------

    async def _login(self, frame: Frame, state: _ConnectionState) -> Session:
        info = state.info
        try:
            options = parse_props(frame.options)
        except PropertiesError as error:
            self._record_frame(info, frame, note=f"unreadable login: {error}")
            await self._refuse(state, frame, "malformed-login", "the login could not be read")
        try:
            body = parse_props(frame.body)
        except PropertiesError:
            body = Properties()
        request = read_login(options, body)
        account, found = None, None
        if request.known_form:
            account, found = await self._authenticate(request, frame, state)
            if account is None:
                why = _refusal_reason(request)
                await self._login_failed(state, frame, request, why)
        elif self.settings.login_policy == "strict":
            await self._login_failed(state, frame, request, "unknown login form (strict policy)")
        try:
            camera = await self._bind_camera(request, account, info, found)
        except _ForeignCamera as refusal:
            await self._note_claim(refusal, info)
            await self._login_failed(state, frame, request, refusal.reason)
        except _TooManyNewCameras:
            why = "too many new cameras from this address"
            await self._login_failed(state, frame, request, why, checked=False)
        if request.role == "camera" or not request.known_form:
            # The camera's login is [U]: keep every one so the real form can be learned.
            self._record_login(info, frame, request)
        login = account.login if account is not None else None
        hop = self._hop(request, frame, info)
        if hop is Hop.FIRST:
            await self._redirect(state, frame)
        session = Session(
            info=info,
            writer=state.writer,
            block=self._new_block(),
            role=request.role,
            login=login,
            camera=camera,
            header=frame,
            account_alias=await self._account_alias(account, camera),
            session_alias=self._session_alias(account, camera),
        )
        self._sessions[session.block] = session
        self.counters["logins_ok"] += 1
        if session.camera is not None:
            await self._camera_online(session, session.camera, request)
        else:
            log.info("%s logged in (%s)", session.describe(), request.role)
        await self.store.log_session(
            session.camera_id, login, request.role, _peer(info), "login " + _describe_app(request)
        )
        welcome = await self._welcome(session)
        if hop is Hop.UNSURE:
            welcome += encode_properties({"redirectHost": self._return_paths.target(info)[0]})
        session.send(session.frame(Action.LOGIN, options=b"", body=welcome))
        if session.camera is not None:
            # After the reply, so whatever a subscriber sends the camera reaches it logged in.
            online = CameraOnline(session.camera.id, session.camera.owner, session.peer_host)
            self.bus.publish(online)
        return session

    async def _authenticate(
        self, request: LoginRequest, frame: Frame, state: _ConnectionState
    ) -> tuple[Any, _Found | None]:
        """The account a login's credentials prove (or None), and the camera it names when that
        was read on the way. Public Tend clients leave CX_UNAME empty and send only
        `<partner>.accessToken:<token>`: the token alone names the account. With a CX_UNAME,
        the token or password must belong to that login. A token is a hash lookup; a password
        is checked under the login limits (fakecloud/core/login_guard.py)."""
        assert request.secret is not None
        store = self.store
        if request.is_token:
            if not request.login:
                return await store.account_for_token(request.secret), None
            return await store.verify_token(request.login, request.secret), None
        if request.role == "camera":
            # A camera logging in again (a power cut: all of them at once) with a password
            # verified recently: the account and its camera record in one store call.
            cached = await store.cached_camera_login(
                request.login, request.secret, mac=request.mac, alias=request.alias
            )
            if cached is not None:
                return cached[0], _Found(cached[1])

        async def still_waiting() -> bool:
            reader = state.reader
            gone = reader is not None and (reader.at_eof() or reader.exception() is not None)
            return not (gone or state.writer.is_closing())

        try:
            account = await store.verify_password(
                request.login,
                request.secret,
                client=state.info.peer[0],
                still_waiting=still_waiting,
            )
        except LoginRefused as refusal:
            await self._login_failed(state, frame, request, str(refusal), checked=False)
        return account, None

    def _session_alias(self, account: Account | None, camera: Camera | None) -> str | None:
        """An app session's own alias, given in its login reply (Settings.session_aliases)."""
        if account is None or camera is not None or not self.settings.session_aliases:
            return None
        return new_session_alias(str(account.alias))

    async def _account_alias(self, account: Account | None, camera: Camera | None) -> str | None:
        """The alias of the session's account: the one logged in, else the camera's owner."""
        if account is not None:
            return str(account.alias)
        if camera is not None and camera.owner:
            owner = await self.store.get_account(camera.owner)
            return str(owner.alias) if owner is not None else None
        return None

    async def _bind_camera(
        self,
        request: LoginRequest,
        account: Account | None,
        info: ConnectionInfoLike,
        found: _Found | None = None,
    ) -> Camera | None:
        """The camera record a login speaks for (None when it names none we can find);
        `found`: the record the login's own lookup already read (see _authenticate).

        Security consideration: a login speaks for a camera only with its proof (the owner's
        credentials, or the identity secret it was bound with); one fakecloud cannot verify
        makes a *pending* camera that an owner must approve (docs/broker.md, Pairing)."""
        if request.role == "app" and request.known_form:
            return None
        store = self.store
        existing = None
        if found is not None:
            existing = found.camera
        elif request.mac or request.alias:
            existing = await store.find_camera(mac=request.mac, alias=request.alias)
        elif not request.known_form:
            existing = await store.find_camera(ip=info.peer[0])
        if account is not None:
            if existing is not None and existing.owner:
                # The owner must `fakecloud camera forget` it before another account has it.
                if existing.owner.casefold() != account.login.casefold():
                    raise _ForeignCamera(existing, "camera belongs to another account")
            if request.mac and not (
                existing is not None
                and unchanged_by_upsert(existing, reported_alias=request.alias, owner=account.login)
            ):
                # A camera logging in again as it was needs no upsert: the read answers it.
                return await store.upsert_camera(
                    mac=request.mac, reported_alias=request.alias, owner=account.login
                )
            return existing
        if existing is not None and not _proves(existing, request):
            raise _ForeignCamera(existing, "the login does not prove this camera's identity")
        if existing is None and request.mac:
            # Security consideration: each unknown MAC costs a row and a write; a flood of
            # random MACs from one address is refused before the store, cheaply.
            if not self._new_cameras.take(client_key(info.peer[0])):
                raise _TooManyNewCameras
            existing = await store.add_pending_camera(
                mac=request.mac,
                reported_alias=request.alias,
                identity_secret=request.identity_secret,
            )
            self.bus.publish(CameraPending(existing.id, existing.mac, info.peer[0]))
        if existing is not None and existing.pending:
            # A pairing window (`fakecloud pair`) is the owner saying "the next one is mine".
            owner = await store.pairing_account()
            if owner is not None:
                existing = await store.approve_camera(existing.id, owner, request.identity_secret)
                log.info("camera %s paired with %s (pairing window)", existing.mac, owner)
        return existing

    async def _note_claim(self, refusal: _ForeignCamera, info: ConnectionInfoLike) -> None:
        """Show the owner a refused claim on their camera, at most one per camera per
        interval (a flood of claims must not flood the camera's events)."""
        camera = refusal.camera
        now = asyncio.get_running_loop().time()
        if now - self._claims_noted.get(camera.id, float("-inf")) < CLAIM_EVENT_INTERVAL:
            return
        if len(self._claims_noted) >= MAX_CLAIMS_NOTED:
            self._claims_noted.clear()
        self._claims_noted[camera.id] = now
        host = info.peer[0]
        message = f"a device claimed to be {camera.name or camera.alias} from {host}"
        log.warning("%s (camera %s): %s", message, camera.id, refusal.reason)
        with contextlib.suppress(Exception):  # the camera may be forgotten meanwhile
            await self.store.add_event(
                camera.id, CLAIM_EVENT, {"message": message, "peer": host, "reason": refusal.reason}
            )

    async def camera_changed(self, camera_id: int) -> None:
        """Re-read a camera whose owner changed (an approval): its live session, if any, now
        speaks for the new owner without logging in again."""
        session = self._camera_sessions.get(camera_id)
        camera = await self.store.get_camera(camera_id)
        if session is None or session.camera is None or camera is None:
            return
        self._index_aliases(session.camera, add=False)
        session.camera = camera
        session.account_alias = await self._account_alias(None, camera)
        self._index_aliases(camera, add=True)

    async def _camera_online(self, session: Session, camera: Camera, request: LoginRequest) -> None:
        previous = self._camera_sessions.get(camera.id)
        self._camera_sessions[camera.id] = session
        if previous is not None:
            log.info("camera %s reconnected; closing its older connection", camera.mac)
            previous.writer.close()
        # Written behind (grouped with other logins' writes); the record comes back without
        # waiting for the commit.
        session.camera = self.store.camera_online(
            camera, ip=session.peer_host, firmware=request.firmware, properties=request.reported
        )
        if previous is not None and previous.camera is not None:
            self._index_aliases(previous.camera, add=False)
        self._index_aliases(session.camera, add=True)
        log.info("camera %s logged in from %s", camera.mac, session.peer_host)

    def _index_aliases(self, camera: Camera, *, add: bool) -> None:
        for alias in {alias for alias in (camera.alias, camera.reported_alias) if alias}:
            ids = self._aliases.setdefault(alias, set())
            if add:
                ids.add(camera.id)
            else:
                ids.discard(camera.id)
            if not ids:
                del self._aliases[alias]

    async def _welcome(self, session: Session) -> bytes:
        """The login reply body (sid, alias, camera lists, relay address)."""
        announce = self.settings.effective_announce_address
        relay = self.relay_port()
        sid = session.block.hex()
        reply: dict[str, str] = {"sid": sid, "session-id": sid}
        if session.camera is not None:
            reply |= {"alias": session.camera.alias, "device-id": str(session.camera.id)}
            if session.camera.owner:
                # How a camera learns its media key is [U]; our hypothesis is this reply.
                # Security consideration: only an owned camera's login, which proved itself
                # (_bind_camera), gets it; a pending camera gets nothing of an owner's.
                reply["p2p-key"] = session.camera.p2p_key
        elif session.login:
            cameras = await self.store.list_cameras(owner=session.login)
            reply |= {
                # R names itself by this alias in commands and SDNK ids (docs/relay.md).
                "alias": session.reply_alias or "",
                "self-list": "\n".join(map(self._self_list_line, cameras)),
                "device-info-list": "\n".join(map(self._device_info_line, cameras)),
            }
        reply["p2p-host"] = f"{announce}:{relay}:{relay}"
        return encode_properties(reply)

    def _self_list_line(self, camera: Camera) -> str:
        # Public clients read field 0 (`id:mac`) and field 5 (the alias) only.
        online = "online" if camera.id in self._camera_sessions else "offline"
        fields = (f"{camera.id}:{camera.mac}", camera.name or "", "cam", online)
        return ",".join((*fields, camera.owner or "", camera.alias or ""))

    def _device_info_line(self, camera: Camera) -> str:
        reported = camera.properties or {}
        lport = reported.get("lport") or reported.get("LPORT") or DEFAULT_CAMERA_LPORT
        sleep = "NONE" if camera.id in self._camera_sessions else "DEEP"
        fields = (
            f"MAC={camera.mac}",
            f"AES={camera.p2p_key}",
            f"LIP={camera.last_ip or ''}",
            f"LPORT={lport}",
            f"PWR_SLEEP_MODE={sleep}",
        )
        return f"{camera.id}:{camera.mac}," + "+".join(fields)

    @property
    def _return_paths(self) -> ReturnPaths:
        return ReturnPaths(
            hostname=self.settings.broker_hostname,
            port=self.broker_port(),
            address=self.settings.effective_broker_address,
            own_address=self.settings.broker_has_own_address,
        )

    def _hop(self, request: LoginRequest, frame: Frame, info: ConnectionInfoLike) -> Hop:
        """Redirect a client's first login to this same broker (K's client insists on it), and
        accept its second (see fakecloud/broker/redirects.py and docs/broker.md)."""
        if request.role == "camera":
            enabled = self.settings.redirect_camera_logins
        else:
            enabled = self.settings.redirect_app_logins
        if not enabled:
            return Hop.RETURN
        # One client program's logins (its header version and client_type too): two different
        # apps of one account behind one address do not answer each other's redirects.
        key = self._fingerprints.key(
            info.peer[0], request.role, request.login.casefold(), request.secret,
            request.mac, request.alias, str(frame.version), request.reported.get("client_type"),
        )  # fmt: skip
        memory = self._redirect_memory
        paths = self._return_paths
        if paths.is_return(info):
            memory.forget_one(key)
            return Hop.RETURN
        if not paths.own_address:
            # No stateless return path for clients that ignore the port and keep their SNI:
            # a remembered redirect makes this login probably, never surely, a return.
            if memory.claim(key):
                memory.remember(key)  # in case it was a new client that follows the name
                return Hop.UNSURE
        elif memory.claim(key):
            self._hint_about_returns(info)
        memory.remember(key)
        return Hop.FIRST

    def _hint_about_returns(self, info: ConnectionInfoLike) -> None:
        """A redirected client came back to the announce address although broker_address has
        its own: it is redirected again (staying stateless), and the likely cause is logged."""
        now = asyncio.get_running_loop().time()
        if now - self._return_hint_logged < RETURN_HINT_INTERVAL:
            return
        self._return_hint_logged = now
        log.warning(
            "%s logged in again on %s right after a redirect; if it loops, the DNS it uses does "
            "not answer %s with broker_address %s",
            info.peer[0],
            info.local_address or "?",
            self._return_paths.hostname,
            self._return_paths.address,
        )

    async def _redirect(self, state: _ConnectionState, frame: Frame) -> None:
        host, port = self._return_paths.target(state.info)
        body = encode_properties({"redirectHost": host, "1": f"{host}:{port}"})
        self.counters["redirects"] += 1
        await self._reply_and_close(state, replace_frame(frame, Action.LOGIN, body))

    async def _login_failed(
        self,
        state: _ConnectionState,
        frame: Frame,
        request: LoginRequest,
        why: str,
        *,
        checked: bool = True,
    ) -> None:
        """Refuse the login and close. `checked=False`: refused by the login limits without a
        check; only counted and logged now and then, so a flood cannot fill the logs and the
        store with copies of itself."""
        if checked:
            self.counters["logins_failed"] += 1
            log.warning("login refused for %r from %s: %s", request.login, state.info.peer[0], why)
            # Recorded like any login the owner may need to look into, the secret left out.
            self._record_login(state.info, frame, request, refused=why)
            self.bus.publish(RefusedLogin(request.login, request.role, state.info.peer[0], why))
            await self.store.log_session(None, request.login, request.role, _peer(state.info), why)
        else:
            self.counters["logins_limited"] += 1
            now = asyncio.get_running_loop().time()
            if now - self._limited_logged >= LIMITED_LOG_INTERVAL:
                self._limited_logged = now
                log.warning(
                    "login limits refused %d logins so far (latest for %r from %s: %s)",
                    self.counters["logins_limited"],
                    request.login,
                    state.info.peer[0],
                    why,
                )
        # Security consideration: one answer for every refusal, so it tells nothing about why
        # (a wrong password, the login limits and an unknown camera all look the same).
        await self._refuse(state, frame, "login-failed", "login refused")

    async def _refuse(self, state: _ConnectionState, frame: Frame, code: str, reason: str) -> None:
        body = encode_properties({"error": code, "reason": reason})
        await self._reply_and_close(state, replace_frame(frame, Action.ERROR, body))

    async def _reply_and_close(self, state: _ConnectionState, frame: Frame) -> None:
        with contextlib.suppress(ConnectionError, OSError, CXNetError):
            state.writer.write(encode_frame(frame))
            async with asyncio.timeout(5):
                await state.writer.drain()
        state.end_reason = "closed by broker"
        raise _CloseConnection

    def _new_block(self) -> bytes:
        while True:
            block = os.urandom(SESSION_SIZE)
            # All-zero is what clients send before login; never hand it out.
            if any(block) and block not in self._sessions:
                return block

    async def _end_session(self, session: Session, reason: str) -> None:
        self._sessions.pop(session.block, None)
        session.closed.set()
        for correlation, pending in list(self._pending.items()):
            if pending.asker is session:
                del self._pending[correlation]
        camera = session.camera
        if camera is not None and self._camera_sessions.get(camera.id) is session:
            del self._camera_sessions[camera.id]
            self._index_aliases(camera, add=False)
            for pending in self._pending.values():
                if pending.camera_id == camera.id and pending.future and not pending.future.done():
                    pending.future.set_exception(CameraOfflineError(f"camera {camera.id} left"))
            self.bus.publish(CameraOffline(camera.id, reason))
            with contextlib.suppress(Exception):
                await self.store.set_camera_presence(camera.id, False)
            log.info("camera %s went offline (%s)", camera.mac, reason)
        else:
            log.info("%s left (%s)", session.describe(), reason)
        with contextlib.suppress(Exception):
            await self.store.log_session(
                session.camera_id, session.login, session.role, _peer(session.info), "logout"
            )

    # -- commands ---------------------------------------------------------------------------------

    async def _command(self, session: Session, frame: Frame) -> None:
        try:
            options = parse_props(frame.options)
        except PropertiesError as error:
            self._record_frame(session.info, frame, note=f"unreadable command options: {error}")
            self._send_error(session, "malformed-command", "the command options could not be read")
            return
        correlation = options.get("CorrelationID")
        if session.role == "camera":
            pending = self._pending.get(correlation or "")
            if pending is not None and pending.camera_id == session.camera_id:
                self._deliver_reply(pending, frame)
            else:
                await self._camera_event(session, frame)
            return
        await self._route_request(session, frame, options, correlation)

    def _deliver_reply(self, pending: _PendingReply, frame: Frame) -> None:
        self.counters["commands_routed"] += 1
        if pending.future is not None:
            if not pending.future.done():
                pending.future.set_result(frame)
        elif pending.asker is not None:
            asker = pending.asker
            asker.send(asker.frame(frame.action, options=frame.options, body=frame.body, to=0))

    async def _camera_event(self, session: Session, frame: Frame) -> None:
        """A command the camera sent on its own (motion and the like: the vocabulary is [U])."""
        self._record_frame(session.info, frame, note="camera-initiated command")
        if session.camera is None:
            return
        try:
            command = parse_command(frame.body)
        except CommandError:
            return
        await self.store.add_event(session.camera.id, command.name, {"args": list(command.args)})
        log.info("camera %s reported %s", session.camera.mac, command.name)
        if "motion" in command.name.casefold():
            # Which names a NetCam sends for motion is [U]; any name saying so counts.
            self.bus.publish(Motion(session.camera.id, {"command": command.name}))

    async def _route_request(
        self, session: Session, frame: Frame, options: Properties, correlation: str | None
    ) -> None:
        destination = options.get("CX_DSTID")
        found = self._own_camera_session(session, destination)
        if found is None:
            self._send_error(
                session, "offline", f"camera {destination or '?'} is not online", correlation
            )
            return
        try:
            command = parse_command(frame.body)
        except CommandError as error:
            self._send_error(session, "malformed-command", str(error), correlation)
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
        self._remember(correlation, _PendingReply(camera.id, 0.0, asker=session))
        forwarded = target.frame(
            Action.COMMAND, options=options_block, body=frame.body, to=camera.id
        )
        if target.send(forwarded):
            self._routed(camera, command, session)
        else:
            self._send_error(session, "offline", f"camera {destination} is not online", correlation)

    def _routed(self, camera: Camera, command: Command, asker: Session) -> None:
        self.counters["commands_routed"] += 1
        self.bus.publish(CommandRouted(camera.id, command.name, asker.login))

    def _own_camera_session(
        self, asker: Session, destination: str | None
    ) -> tuple[Session, Camera] | None:
        """The online camera a CX_DSTID names, with its session, if it belongs to the asker's
        account.

        Security consideration: an app reaches only its own account's cameras, and "not yours"
        reads the same as "not online" (the caller answers both alike)."""
        wanted = parse_destination(destination)
        candidates: list[int] = sorted(self._aliases.get(wanted.text, ()))
        if wanted.camera_id is not None:
            candidates.insert(0, wanted.camera_id)
        for camera_id in candidates:
            target = self._camera_sessions.get(camera_id)
            camera = target.camera if target is not None else None
            if camera is None or not _owned_by(camera, asker):
                continue
            by_id = camera_id == wanted.camera_id and wanted.mac in (None, camera.mac)
            if target is not None and (
                by_id or wanted.text in (camera.alias, camera.reported_alias)
            ):
                return target, camera
        return None

    def _remember(self, correlation: str, pending: _PendingReply) -> None:
        now = asyncio.get_running_loop().time()
        pending.expires = now + REPLY_WINDOW
        while self._pending and (
            len(self._pending) >= MAX_PENDING_REPLIES
            or next(iter(self._pending.values())).expires < now
        ):
            self._pending.popitem(last=False)
        self._pending[correlation] = pending
        self._pending.move_to_end(correlation)

    def _send_error(
        self, session: Session, code: str, reason: str, correlation: str | None = None
    ) -> None:
        options = encode_properties({"CorrelationID": correlation}) if correlation else b""
        body = encode_properties({"error": code, "reason": reason})
        session.send(session.frame(Action.ERROR, options=options, body=body, to=0))

    # -- capture ----------------------------------------------------------------------------------

    def _record(
        self, kind: str, info: ConnectionInfoLike, *, data: bytes | None = None, **fields: Any
    ) -> None:
        if self.recorder is not None:
            self.recorder.record(
                kind,
                data=data,
                peer=_peer(info),
                local_port=info.local_port,
                tls=info.tls,
                sni=info.sni,
                connection=info.id,
                direction="in",
                **fields,
            )

    def _record_login(
        self,
        info: ConnectionInfoLike,
        frame: Frame,
        request: LoginRequest,
        *,
        refused: str | None = None,
    ) -> None:
        """One `login` record. Security consideration: a login carrying a secret is kept only
        decoded, its secret removed (`request.reported` never holds it); raw bytes are kept
        only for a login without one."""
        extra: dict[str, Any] = {} if refused is None else {"refused": refused}
        if request.known_form:
            extra["credential"] = "token" if request.is_token else "password"
        self._record(
            "login",
            info,
            data=None if request.secret or request.identity_secret else frame.options + frame.body,
            decoded=request.reported,
            role=request.role,
            known_form=request.known_form,
            **extra,
        )

    def _record_frame(self, info: ConnectionInfoLike, frame: Frame, *, note: str) -> None:
        self._record(
            "frame",
            info,
            data=encode_frame(frame)[:4096],
            action=frame.action,
            note=note,
        )


@dataclass(slots=True)
class _ConnectionState:
    info: ConnectionInfoLike
    writer: asyncio.StreamWriter
    login_deadline: float
    # a session's frames (refilled at session_frame_rate), and the drops tolerated beyond it
    frame_budget: TokenBucket
    flood_budget: TokenBucket
    session: Session | None = None
    frames_before_login: int = 0
    frames_dropped: int = 0
    end_reason: str = "connection closed"
    reader: asyncio.StreamReader | None = None  # to tell whether a waiting login still waits


def replace_frame(frame: Frame, action: int, body: bytes) -> Frame:
    """An answer shaped like `frame` (same version, service, crypto) before a session exists."""
    return Frame(
        action=action,
        body=body,
        version=frame.version,
        service=frame.service,
        crypto=frame.crypto,
        server_id=frame.server_id,
    )


def _refusal_reason(request: LoginRequest) -> str:
    """Why credentials were refused, for the owner's logs only (the client is told nothing)."""
    if not request.is_token:
        return "wrong login or password"
    return "token not valid for this login" if request.login else "unknown token"


def _proves(camera: Camera, request: LoginRequest) -> bool:
    """Whether a login without account credentials may speak for this known camera."""
    if camera.identity_hash:
        return identity_proves(camera, request.identity_secret)
    # Nothing of an owner's is at stake in a pending camera; an owned one without a secret
    # speaks only with its owner's credentials, unless the owner paired it knowing that.
    return bool(camera.pending or camera.accepts_unproven)


def _owned_by(camera: Camera, asker: Session) -> bool:
    return camera.owner is not None and camera.owner.casefold() == (asker.login or "").casefold()


def _peer(info: ConnectionInfoLike) -> str:
    host, port = info.peer[0], info.peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe_app(request: LoginRequest) -> str:
    details = request.app_info()
    return " ".join(f"{key}={value}" for key, value in details.items()) or request.role
