"""The login flow: read, authenticate, bind a camera, redirect or welcome, or refuse."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import NoReturn

from fakecloud.broker.binding import CameraBinder, ForeignCamera, Found, TooManyNewCameras
from fakecloud.broker.connection import ConnectionState, refuse, replace_frame, reply_and_close
from fakecloud.broker.context import BrokerContext
from fakecloud.broker.login import LoginRequest, read_login
from fakecloud.broker.presence import Presence, account_alias
from fakecloud.broker.recording import peer_text
from fakecloud.broker.redirects import (
    RETURN_HOLD_OFF,
    CredentialFingerprints,
    RedirectMemory,
    ReturnPaths,
)
from fakecloud.broker.session import ConnectionInfoLike, Session, new_session_alias
from fakecloud.core.events import CameraOnline, RefusedLogin
from fakecloud.core.login_guard import LoginRefused
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import Properties, PropertiesError, encode_properties
from fakecloud.net.properties import parse_properties as parse_props
from fakecloud.store.models import Account, Camera

log = logging.getLogger(__name__)

# A redirect hint about DNS is logged at most this often (seconds).
RETURN_HINT_INTERVAL = 60.0
# Logins refused by the login limits are logged at most this often (seconds).
LIMITED_LOG_INTERVAL = 60.0
# The NetCam's cloud record lists local port 9490 (docs/protocol.md section 5).
DEFAULT_CAMERA_LPORT = 9490


class Hop(enum.Enum):
    """What a login is in the redirect dance, and so what it is answered."""

    FIRST = "redirect"  # a redirect and nothing else
    RETURN = "session"  # the session reply
    # Maybe a return, maybe a new client at the same moment (the fallback memory cannot tell):
    # the session reply plus `redirectHost` only. K, new, follows the name and takes the session
    # on its next hop; K returning takes the session (it reads `sid` after a redirect); R reads
    # only `1=` as a redirect, so it takes the session at once.
    UNSURE = "session and redirect host"


class LoginFlow:
    """Turns a LOGIN frame into a Session, or answers and closes (raises CloseConnection)."""

    def __init__(
        self,
        context: BrokerContext,
        presence: Presence,
        *,
        relay_port: Callable[[], int],
        broker_port: Callable[[], int],
    ) -> None:
        self.context = context
        self.presence = presence
        self.relay_port = relay_port
        self.broker_port = broker_port
        self.binder = CameraBinder(context)
        port = context.settings.broker_port
        self._redirect_memory = RedirectMemory(RETURN_HOLD_OFF if port else 0.0)
        self._fingerprints = CredentialFingerprints()
        self._return_hint_logged = float("-inf")
        self._limited_logged = float("-inf")

    async def login(self, frame: Frame, state: ConnectionState) -> Session:
        info, store, recording = state.info, self.context.store, self.context.recording
        try:
            options = parse_props(frame.options)
        except PropertiesError as error:
            recording.frame(info, frame, note=f"unreadable login: {error}")
            await refuse(state, frame, "malformed-login", "the login could not be read")
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
        elif self.context.settings.login_policy == "strict":
            await self._login_failed(state, frame, request, "unknown login form (strict policy)")
        try:
            camera = await self.binder.bind(request, account, info, found)
        except ForeignCamera as refusal:
            await self.binder.note_claim(refusal, info)
            await self._login_failed(state, frame, request, refusal.reason)
        except TooManyNewCameras:
            why = "too many new cameras from this address"
            await self._login_failed(state, frame, request, why, checked=False)
        if request.role == "camera" or not request.known_form:
            # The camera's login is [U]: keep every one so the real form can be learned.
            recording.login(info, frame, request)
        login = account.login if account is not None else None
        hop = self._hop(request, frame, info)
        if hop is Hop.FIRST:
            await self._redirect(state, frame)
        session = Session(
            info=info,
            writer=state.writer,
            block=self.presence.new_block(),
            role=request.role,
            login=login,
            camera=camera,
            header=frame,
            account_alias=await account_alias(store, account, camera),
            session_alias=self._session_alias(account, camera),
        )
        self.presence.add(session)
        self.context.counters["logins_ok"] += 1
        self.context.logins[request.role, "ok"] += 1
        if session.camera is not None:
            await self.presence.camera_online(session, session.camera, request)
        else:
            log.info("%s logged in (%s)", session.describe(), request.role)
        await store.log_session(
            session.camera_id, login, request.role, peer_text(info), "login " + _describe(request)
        )
        welcome = await self._welcome(session)
        if hop is Hop.UNSURE:
            welcome += encode_properties({"redirectHost": self._return_paths.target(info)[0]})
        session.send(session.frame(Action.LOGIN, options=b"", body=welcome))
        if session.camera is not None:
            # After the reply, so whatever a subscriber sends the camera reaches it logged in.
            online = CameraOnline(session.camera.id, session.camera.owner, session.peer_host)
            self.context.bus.publish(online)
        return session

    async def _authenticate(
        self, request: LoginRequest, frame: Frame, state: ConnectionState
    ) -> tuple[Account | None, Found | None]:
        """The account a login's credentials prove (or None), and the camera it names when that
        was read on the way. Public Tend clients leave CX_UNAME empty and send only
        `<partner>.accessToken:<token>`: the token alone names the account. With a CX_UNAME,
        the token or password must belong to that login. A token is a hash lookup; a password
        is checked under the login limits (fakecloud/core/login_guard.py)."""
        assert request.secret is not None
        store = self.context.store
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
                return cached[0], Found(cached[1])

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
        if account is None or camera is not None or not self.context.settings.session_aliases:
            return None
        return new_session_alias(str(account.alias))

    async def _welcome(self, session: Session) -> bytes:
        """The login reply body (sid, alias, camera lists, relay address)."""
        announce = self.context.settings.effective_announce_address
        relay = self.relay_port()
        sid = session.block.hex()
        reply: dict[str, str] = {"sid": sid, "session-id": sid}
        if session.camera is not None:
            reply |= {"alias": session.camera.alias, "device-id": str(session.camera.id)}
            if session.camera.owner:
                # How a camera learns its media key is [U]; our hypothesis is this reply.
                # Security consideration: only an owned camera's login, which proved itself
                # (CameraBinder.bind), gets it; a pending camera gets nothing of an owner's.
                reply["p2p-key"] = session.camera.p2p_key
        elif session.login:
            cameras = await self.context.store.list_cameras(owner=session.login)
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
        online = "online" if self.presence.is_online(camera.id) else "offline"
        fields = (f"{camera.id}:{camera.mac}", camera.name or "", "cam", online)
        return ",".join((*fields, camera.owner or "", camera.alias or ""))

    def _device_info_line(self, camera: Camera) -> str:
        reported = camera.properties or {}
        lport = reported.get("lport") or reported.get("LPORT") or DEFAULT_CAMERA_LPORT
        sleep = "NONE" if self.presence.is_online(camera.id) else "DEEP"
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
        settings = self.context.settings
        return ReturnPaths(
            hostname=settings.broker_hostname,
            port=self.broker_port(),
            address=settings.effective_broker_address,
            own_address=settings.broker_has_own_address,
        )

    def _hop(self, request: LoginRequest, frame: Frame, info: ConnectionInfoLike) -> Hop:
        """Redirect a client's first login to this same broker (K's client insists on it), and
        accept its second (see fakecloud/broker/redirects.py and docs/broker.md)."""
        if request.role == "camera":
            enabled = self.context.settings.redirect_camera_logins
        else:
            enabled = self.context.settings.redirect_app_logins
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

    async def _redirect(self, state: ConnectionState, frame: Frame) -> NoReturn:
        host, port = self._return_paths.target(state.info)
        body = encode_properties({"redirectHost": host, "1": f"{host}:{port}"})
        self.context.counters["redirects"] += 1
        await reply_and_close(state, replace_frame(frame, Action.LOGIN, body))

    async def _login_failed(
        self,
        state: ConnectionState,
        frame: Frame,
        request: LoginRequest,
        why: str,
        *,
        checked: bool = True,
    ) -> NoReturn:
        """Refuse the login and close. `checked=False`: refused by the login limits without a
        check; only counted and logged now and then, so a flood cannot fill the logs and the
        store with copies of itself."""
        counters = self.context.counters
        self.context.logins[request.role, "refused" if checked else "limited"] += 1
        if checked:
            counters["logins_failed"] += 1
            log.warning("login refused for %r from %s: %s", request.login, state.info.peer[0], why)
            # Recorded like any login the owner may need to look into, the secret left out.
            self.context.recording.login(state.info, frame, request, refused=why)
            refused = RefusedLogin(request.login, request.role, state.info.peer[0], why)
            self.context.bus.publish(refused)
            peer = peer_text(state.info)
            await self.context.store.log_session(None, request.login, request.role, peer, why)
        else:
            counters["logins_limited"] += 1
            now = asyncio.get_running_loop().time()
            if now - self._limited_logged >= LIMITED_LOG_INTERVAL:
                self._limited_logged = now
                log.warning(
                    "login limits refused %d logins so far (latest for %r from %s: %s)",
                    counters["logins_limited"],
                    request.login,
                    state.info.peer[0],
                    why,
                )
        # Security consideration: one answer for every refusal, so it tells nothing about why
        # (a wrong password, the login limits and an unknown camera all look the same).
        await refuse(state, frame, "login-failed", "login refused")


def _refusal_reason(request: LoginRequest) -> str:
    """Why credentials were refused, for the owner's logs only (the client is told nothing)."""
    if not request.is_token:
        return "wrong login or password"
    return "token not valid for this login" if request.login else "unknown token"


def _describe(request: LoginRequest) -> str:
    details = request.app_info()
    return " ".join(f"{key}={value}" for key, value in details.items()) or request.role
