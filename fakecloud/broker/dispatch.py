"""The connection loop: read within budgets, decode, dispatch each frame, end the session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fakecloud.broker.connection import CloseConnection, ConnectionState, send_error
from fakecloud.broker.context import BrokerContext
from fakecloud.broker.login_flow import LoginFlow
from fakecloud.broker.presence import Presence
from fakecloud.broker.recording import MAX_RECORDED_BYTES, peer_text
from fakecloud.broker.routing import CommandRouter
from fakecloud.broker.session import ConnectionInfoLike, Session
from fakecloud.core.events import CameraOffline
from fakecloud.core.rates import TokenBucket
from fakecloud.net.cxnet import Action, CXNetError, Frame, FrameDecoder

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
# A connection must log in within this many seconds of connecting, however it spreads its bytes
# (capped by Settings.idle_timeout).
LOGIN_TIMEOUT = 30.0
# Frames tolerated (and recorded) before a login; an unknown client gets room to show itself.
MAX_FRAMES_BEFORE_LOGIN = 32


class ConnectionServer:
    """Serves CXNet connections, each until it closes, falls silent or misbehaves."""

    def __init__(
        self,
        context: BrokerContext,
        presence: Presence,
        logins: LoginFlow,
        router: CommandRouter,
    ) -> None:
        self.context = context
        self.presence = presence
        self.logins = logins
        self.router = router
        self.handlers: set[asyncio.Task[Any]] = set()
        self.stopping = False

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfoLike
    ) -> None:
        """Serve one CXNet connection until it closes, falls silent or misbehaves."""
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        settings = self.context.settings
        # Security consideration: until it logs in, a connection may buffer one login-sized
        # frame, not max_request_bytes (a thousand silent connections would hold a GiB).
        decoder = FrameDecoder(
            max_body=settings.max_request_bytes, max_frame=settings.max_login_frame_bytes
        )
        loop_time, rate = asyncio.get_running_loop().time, settings.session_frame_rate
        state = ConnectionState(
            info,
            writer,
            login_deadline=loop_time() + min(LOGIN_TIMEOUT, settings.idle_timeout),
            frame_budget=TokenBucket(rate, settings.session_frame_burst, loop_time),
            flood_budget=TokenBucket(rate, settings.session_flood_frames, loop_time),
            reader=reader,
        )
        try:
            while not self.stopping:
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
        except CloseConnection:
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
                self.handlers.discard(task)

    async def _read(self, reader: asyncio.StreamReader, state: ConnectionState) -> bytes:
        loop = asyncio.get_running_loop()
        settings = self.context.settings
        if state.session is None:
            # Security consideration: one deadline for the whole login, not one per read, so a
            # client trickling a byte at a time cannot stay unauthenticated for long.
            deadline, chunk = state.login_deadline, settings.max_login_frame_bytes
            why = "did not log in in time"
        else:
            deadline, chunk = loop.time() + settings.keepalive_timeout, READ_CHUNK
            why = f"silent for {settings.keepalive_timeout:g} s"
        try:
            async with asyncio.timeout_at(deadline):
                data = await reader.read(chunk)
        except TimeoutError:
            state.end_reason = why
            return b""
        if not data:
            state.end_reason = "connection closed"
        return data

    async def _dispatch(self, frame: Frame, state: ConnectionState) -> None:
        session = state.session
        if session is not None and not self._within_frame_rate(session, state):
            return
        if frame.action == Action.LOGIN:
            if session is not None:
                send_error(session, "already-logged-in", "this connection is logged in")
                return
            state.session = await self.logins.login(frame, state)
            state.info.mark_authenticated()  # the front door's budget never evicts it now
            return
        if session is None:
            self.context.recording.frame(state.info, frame, note="before login")
            state.frames_before_login += 1
            if (
                self.context.settings.login_policy == "strict"
                or state.frames_before_login > MAX_FRAMES_BEFORE_LOGIN
            ):
                raise CloseConnection
            return
        session.header = frame
        if frame.action == Action.KEEPALIVE:
            session.send(session.frame(Action.KEEPALIVE, options=b"", body=b"", to=0))
            if session.camera is not None:
                # Written behind and coalesced by the store: a keepalive never waits on disk.
                self.context.store.camera_seen(session.camera.id)
        elif frame.action == Action.COMMAND:
            await self.router.command(session, frame)
        else:
            note = f"unhandled from {session.role}"
            self.context.recording.frame(session.info, frame, note=note)

    def _within_frame_rate(self, session: Session, state: ConnectionState) -> bool:
        """Security consideration: a session's frames are rate-limited (a token bucket); excess
        frames are dropped and counted, and a session that keeps flooding far beyond the rate is
        closed. A client keeping to the rate (K keepalives every 20 s) never notices."""
        if state.frame_budget.take():
            return True
        self.context.counters["frames_dropped"] += 1
        state.frames_dropped += 1
        if not state.flood_budget.take():
            log.warning(
                "closing %s: %d frames dropped over the rate of %g per second",
                session.describe(),
                state.frames_dropped,
                self.context.settings.session_frame_rate,
            )
            state.end_reason = "frame flood"
            raise CloseConnection
        return False

    def _malformed(self, info: ConnectionInfoLike, data: bytes, error: str) -> None:
        self.context.counters["malformed_frames"] += 1
        log.warning("closing %s from %s: malformed CXNet frame (%s)", info.id, info.peer[0], error)
        self.context.recording.record("frame", info, data=data[:MAX_RECORDED_BYTES], error=error)

    async def _end_session(self, session: Session, reason: str) -> None:
        store = self.context.store
        session.closed.set()
        self.router.pending.forget_asker(session)
        camera = self.presence.remove(session)
        if camera is not None:
            self.router.pending.camera_left(camera.id)
            self.context.bus.publish(CameraOffline(camera.id, reason))
            with contextlib.suppress(Exception):
                await store.set_camera_presence(camera.id, False)
            log.info("camera %s went offline (%s)", camera.mac, reason)
        else:
            log.info("%s left (%s)", session.describe(), reason)
        with contextlib.suppress(Exception):
            await store.log_session(
                session.camera_id, session.login, session.role, peer_text(session.info), "logout"
            )
