"""SDNK rendezvous: which session and role a REGISTER names, and taking the socket in.

Who is who (docs/relay.md, "Who is who"): R registers (own id, camera id), a camera that names
its viewer (camera id, viewer id), K and some cameras the camera's id twice. `resolve` and
`k_session` are the rules, free of I/O; `Rendezvous.register` applies them to a datagram.
"""

from __future__ import annotations

import time
from collections.abc import Hashable

from fakecloud.net.sdnk import Address, Register
from fakecloud.relay.accounting import RelayAccounting
from fakecloud.relay.handshake import Handshake
from fakecloud.relay.sessions import Endpoint, Role, Session, Stream
from fakecloud.relay.sinks import Sink
from fakecloud.relay.table import SessionTable


def newest(sessions: list[Session]) -> Session:
    return max(sessions, key=lambda session: session.allocation.number)


def k_session(stream: Stream, channel: int, host: str) -> Session | None:
    """A K viewer names no viewer: the newest app session allocated for its host, preferring
    one whose socket for this channel has not registered yet."""
    # Security consideration: K's ids are the public camera id, so the host the app reached
    # the broker from is what binds a K socket to an authenticated session; a session whose
    # app knows its secret viewer id is never taken by a socket that does not name it.
    apps = [
        session
        for session in stream.distinct_sessions()
        if session.allocation.viewer_host == host and not session.allocation.requires_viewer_id
    ]
    if not apps:
        return None
    unclaimed = [
        session
        for session in apps
        if not any(endpoint.channel == channel for endpoint in session.endpoints)
    ]
    return newest(unclaimed or apps)


def resolve(
    stream_by_id: dict[str, Stream], register: Register, public: Address
) -> tuple[Role, Session] | str:
    """Which session and role a REGISTER's ids name (see docs/relay.md, "Who is who"), or why
    none: the drop reason."""
    first, second = register.ids
    # R reading: own id first, the camera's (by id or alias) second.
    stream = stream_by_id.get(second)
    if stream is not None and first != second:
        session = stream.sessions.get((first, public.host))
        if session is not None:
            return "viewer", session
        if any(viewer_id == first for viewer_id, _ in stream.sessions):
            return "viewer_host_mismatch"
    stream = stream_by_id.get(first)
    if stream is None or not stream.sessions:
        return "unknown_id"
    newest_session = newest(stream.distinct_sessions())
    if stream_by_id.get(second) is not stream:
        # R's order mirrored: the camera names the viewer it was asked by (fakecloud, which
        # asks on behalf of every watcher), not necessarily one of the sessions.
        return "camera", newest_session
    # K reading: the camera's id twice. From the camera's host it is the camera, unless
    # the camera is known to name its viewer (then it is a K viewer sharing the address).
    if stream.camera_form != "mirrored" and public.host == stream.camera_host:
        return "camera", newest_session
    session = k_session(stream, register.channel, public.host)
    return ("viewer", session) if session is not None else "viewer_host_mismatch"


class Rendezvous:
    def __init__(
        self, table: SessionTable, handshake: Handshake, accounting: RelayAccounting
    ) -> None:
        self._table = table
        self._handshake = handshake
        self._accounting = accounting

    def register(self, register: Register, key: Hashable, public: Address, sink: Sink) -> None:
        resolved = resolve(self._table.stream_by_id, register, public)
        if isinstance(resolved, str):
            self._accounting.drop(resolved, register.encode(), public, ids=list(register.ids))
            return
        role, session = resolved
        stream = session.stream
        if role == "camera" and stream.camera_host not in (None, public.host):
            self._accounting.drop("camera_host_mismatch", register.encode(), public)
            return
        if role == "camera":
            self._learn_camera_form(stream, register)
        endpoint = self._table.endpoints.get(key)
        if endpoint is not None and (
            endpoint.role != role
            or endpoint.channel != register.channel
            or endpoint.stream is not stream
            or (role == "viewer" and endpoint.session is not session)
        ):
            self._table.remove_endpoint(endpoint)
            endpoint = None
        now = time.monotonic()
        if endpoint is None:
            added = self._table.add_endpoint(register, role, session, key, public, sink, now)
            if isinstance(added, str):
                self._accounting.drop(added, register.encode(), public)
                return
            endpoint = added
            self._joined(endpoint, register)
        endpoint.lan, endpoint.ids, endpoint.kind = register.lan, register.ids, register.kind
        endpoint.heard(now)
        self._handshake.send_peers(endpoint)
        self._handshake.invite_camera(stream, register.channel)

    def _joined(self, endpoint: Endpoint, register: Register) -> None:
        """A socket just took its slot: a viewer owes its proof; direct mode tells the other end."""
        public = endpoint.public
        if endpoint.role == "viewer":
            self._handshake.require_proof(endpoint, received=len(register.encode()))
        self._accounting.record(
            "register",
            data=register.encode(),
            peer=f"{public.host}:{public.port}",
            role=endpoint.role,
            channel=register.channel,
            ids=list(register.ids),
            lan=f"{register.lan.host}:{register.lan.port}",
        )
        if self._handshake.peer_mode == "direct":
            # The counterpart registered first: now it can learn about this end too (a viewer
            # learns the camera's address before its proof; the camera learns a viewer's after).
            for counterpart in self._handshake.counterparts(endpoint, proven_only=False):
                self._handshake.send_peers(counterpart)

    def _learn_camera_form(self, stream: Stream, register: Register) -> None:
        mirrored = register.ids[0] != register.ids[1]
        if mirrored and stream.camera_form != "mirrored":
            # The camera names its viewer, so earlier "camera id twice" REGISTERs taken for the
            # camera (K viewers behind the camera's address, e.g. all on loopback) were viewers.
            for camera in list(stream.cameras.values()):
                if camera.ids[0] == camera.ids[1]:
                    self._reclassify_as_viewer(camera)
        stream.camera_form = "mirrored" if mirrored else "repeated"

    def _reclassify_as_viewer(self, endpoint: Endpoint) -> None:
        session = k_session(endpoint.stream, endpoint.channel, endpoint.public.host)
        if session is None:
            self._table.drop_endpoint(endpoint)  # no app of that host asked: it was nobody's viewer
            return
        self._table.make_viewer(endpoint, session)
        # It may have finished its punch already (K then only answers): ask it at once.
        self._handshake.require_proof(endpoint, received=0)
        self._handshake.challenge(endpoint)
