"""Who watches each camera stream, and the one place that tells cameras to start and stop.

What the camera is sent, and why, is in docs/viewer.md (the camera's side is [U] in
docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from fakecloud.broker import Broker, BrokerError, CameraOfflineError, Session
from fakecloud.broker.routing import new_correlation_id
from fakecloud.net.commands import format_command
from fakecloud.net.cxnet import Action
from fakecloud.relay.sessions import MediaKind

log = logging.getLogger(__name__)

# `require-video-send|<id>|8|` asks for plain video, `|9|` for AES (docs/protocol.md section 3).
AES_MODE = "9"
# What fakecloud sends the camera to start and to stop each kind of stream.
CAMERA_COMMANDS: dict[MediaKind, tuple[str, str]] = {
    "video": ("require-video-send", "stop-video-receive"),
    "audio": ("require-audio-send", "stop-audio-receive"),
}


@dataclass(eq=False)
class _Watched:
    """Who watches one camera stream, and the camera session fakecloud asked for it."""

    watchers: set[Hashable] = field(default_factory=set)
    asked_on: Session | None = None
    token: str = ""  # the audio session token of the latest request
    correlation: str = ""  # the latest request's CorrelationID, which its stop carries again
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Audience:
    """Who watches each camera stream, and the one place that tells cameras to start and stop.

    Watchers are fakecloud's own viewer (`LOCAL_VIEWER`, while the hub has local viewers) and
    each app's relay session (its `Allocation`). fakecloud is the camera's only viewer: the first
    watcher makes it send the camera `require-*-send|<viewer id>|…`; the last one leaving makes
    it send `stop-*-receive|<viewer id>|…`. Nobody else's start or stop reaches the camera, so
    one app leaving never stops a stream that fakecloud or another app still watches.
    """

    def __init__(
        self,
        broker: Broker,
        viewer_id: str,
        command_timeout: float,
        report: Callable[[int, str], None],
    ) -> None:
        self._broker = broker
        self._viewer_id = viewer_id
        self._command_timeout = command_timeout
        self._report = report
        self._streams: dict[tuple[int, MediaKind], _Watched] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters = {"requests": 0, "stops": 0}

    def watch(self, camera_id: int, kind: MediaKind, watcher: Hashable) -> asyncio.Task[None]:
        """Add a watcher; the returned task asks the camera if it is not streaming yet."""
        self._watched(camera_id, kind).watchers.add(watcher)
        return self._reconcile_soon(camera_id, kind)

    def unwatch(self, camera_id: int, kind: MediaKind, watcher: Hashable) -> asyncio.Task[None]:
        """Remove a watcher; the returned task stops the camera if nobody is left."""
        self._watched(camera_id, kind).watchers.discard(watcher)
        return self._reconcile_soon(camera_id, kind)

    def ask_again(self, camera_id: int, kind: MediaKind) -> None:
        """The stream was lost although the camera was asked: ask it again on the next watch."""
        self._watched(camera_id, kind).asked_on = None

    def presence_changed(self, camera_id: int, online: bool) -> None:
        """A camera session began or ended: what it was asked belongs to the old session.

        Heard from the bus, so maybe a moment late: a request already made on the camera's
        current session stands (asking again would start a second stream)."""
        current = self._broker.camera_session(camera_id)
        for (watched_camera, kind), watched in self._streams.items():
            if watched_camera == camera_id:
                if watched.asked_on is not current:
                    watched.asked_on = None
                if online and watched.watchers:
                    self._reconcile_soon(camera_id, kind)

    def watchers(self, camera_id: int, kind: MediaKind) -> int:
        watched = self._streams.get((camera_id, kind))
        return len(watched.watchers) if watched is not None else 0

    async def close(self, within: float) -> None:
        """Forget pending work and tell every camera still asked to stop (the broker runs)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        asked = [(key, watched) for key, watched in self._streams.items() if watched.asked_on]
        self._streams.clear()
        await asyncio.gather(
            *(self._stop(camera_id, kind, watched, within) for (camera_id, kind), watched in asked)
        )

    def status(self) -> dict[str, int]:
        return {
            f"{camera_id}/{kind}": len(watched.watchers)
            for (camera_id, kind), watched in self._streams.items()
            if watched.watchers
        }

    def _watched(self, camera_id: int, kind: MediaKind) -> _Watched:
        return self._streams.setdefault((camera_id, kind), _Watched())

    def _reconcile_soon(self, camera_id: int, kind: MediaKind) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(
            self._reconcile(camera_id, kind), name=f"audience-{camera_id}-{kind}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _reconcile(self, camera_id: int, kind: MediaKind) -> None:
        """Bring the camera in line with its watchers: asked on its current session while
        anyone watches, told to stop once nobody does."""
        watched = self._watched(camera_id, kind)
        async with watched.lock:
            session = self._broker.camera_session(camera_id)
            if session is not None and session.camera is None:
                session = None
            if watched.watchers and session is not None and watched.asked_on is not session:
                await self._ask(camera_id, kind, watched, session)
            elif not watched.watchers and watched.asked_on is not None:
                await self._stop(camera_id, kind, watched, self._command_timeout)

    async def _ask(
        self, camera_id: int, kind: MediaKind, watched: _Watched, session: Session
    ) -> None:
        watched.asked_on = session
        watched.token = f"{self._viewer_id}:{int(time.time() * 1000)}"
        watched.correlation = new_correlation_id()
        self.counters["requests"] += 1
        try:
            reply = await self._broker.send_command(
                camera_id,
                self._command(kind, watched, start=True),
                timeout=self._command_timeout,
                correlation=watched.correlation,
            )
        except CameraOfflineError:
            watched.asked_on = None  # asked again when the bus says it logged in
            return
        except BrokerError as error:
            # What a NetCam answers is [U]; its media may come all the same.
            log.debug("camera %s: %s; waiting for %s anyway", camera_id, error, kind)
            return
        if reply.action == Action.ERROR:
            # Shown as sent: the form of a camera's refusal is [U].
            answer = " ".join(reply.body.decode("utf-8", "replace").split())[:200]
            self._report(camera_id, f"refused to send {kind}: {answer}")

    async def _stop(
        self, camera_id: int, kind: MediaKind, watched: _Watched, within: float
    ) -> None:
        asked, watched.asked_on = watched.asked_on, None
        if asked is None or self._broker.camera_session(camera_id) is not asked:
            return  # that session ended: the camera has nothing to stop
        self.counters["stops"] += 1
        try:
            await self._broker.send_command(
                camera_id,
                self._command(kind, watched, start=False),
                timeout=within,
                correlation=watched.correlation,
            )
        except BrokerError as error:
            log.debug("camera %s did not confirm the stop: %s", camera_id, error)

    def _command(self, kind: MediaKind, watched: _Watched, *, start: bool) -> str:
        # Audio names a session token too, as both public clients write it (`<id>:<ms>`).
        name = CAMERA_COMMANDS[kind][0 if start else 1]
        session = (watched.token,) if kind == "audio" else ()
        mode = (AES_MODE,) if start else ()
        return format_command(name, self._viewer_id, *session, *mode)
