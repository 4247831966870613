"""What the relay knows: allocations, the SDNK ids they answer to, and their sockets.

An `Allocation` is one viewer's session on one camera stream, as the broker hands it out. Inside
the relay a `Stream` is one camera's stream (its sockets, its sessions, fakecloud's taps), a
`Session` is one allocation's viewer (its sockets and taps) and an `Endpoint` is one registered
socket (a UDP source address or a TCP-fallback connection). Plain state: no I/O here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from fakecloud.core.rates import TokenBucket
from fakecloud.net.sdnk import ID_SIZE, Address
from fakecloud.relay.proof import AddressProof
from fakecloud.relay.sinks import Sink, Tap

MediaKind = Literal["video", "audio"]
Role = Literal["camera", "viewer"]
# Why the relay ended a session by itself (the allocation's `on_end` hears it).
EndReason = Literal["bye", "idle"]
# Why a session ended when its owner or the relay's shutdown ended it (only the bus hears it).
ReleaseReason = Literal["release", "shutdown"]
SessionEnded = Callable[["Allocation", EndReason], None]

# The channel a client's RTCP socket registers (K: the RTCP socket; R: the second channel).
CONTROL_CHANNEL = 1
CHANNELS = (0, CONTROL_CHANNEL)

_KIND_LETTER: dict[MediaKind, str] = {"video": "V", "audio": "A"}


def media_id(kind: MediaKind, name: str) -> str:
    """`V_<name>` (`A_` for audio) cut to the 32 bytes of an SDNK id, as both public clients cut
    it; ValueError for a name that cannot be an id (not ASCII, or with a NUL)."""
    value = f"{_KIND_LETTER[kind]}_{name}"
    if not value.isascii() or "\x00" in value:
        raise ValueError(f"{value!r} cannot be an SDNK id (ASCII without NUL)")
    # Security consideration: two names sharing their first 30 bytes share an id; ids only
    # pick sessions among one camera's viewers, which all belong to the camera's owner.
    return value[:ID_SIZE]


def media_ids(kind: MediaKind, names: Iterable[str]) -> tuple[str, ...]:
    """The distinct ids of `names`, in order (the first is the primary one)."""
    return tuple(dict.fromkeys(media_id(kind, name) for name in names))


def datagram_host(address: str | None) -> str | None:
    """An address as datagrams show it: an IPv4-mapped IPv6 peer (a dual-stack listener) is its
    IPv4 address, since SDNK is IPv4 only."""
    if address is None:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


class RelayError(RuntimeError):
    """An allocation or tap the relay cannot provide (full, or the session is gone)."""


@dataclass(frozen=True, slots=True)
class Allocation:
    """One viewer's session on one camera stream, as handed to the broker."""

    number: int
    camera_id: int
    kind: MediaKind
    viewer: str
    camera_media_id: str  # `V_<camera id>`: what the camera's REGISTER names (K: twice)
    viewer_media_id: str  # `V_<viewer>`: what an R-style viewer puts first in its REGISTER
    host: str
    port: int
    # The only host viewer sockets may register from (the app's broker address); None for
    # fakecloud's own tap, for which no socket may register.
    viewer_host: str | None
    # Every id the camera's stream answers to (`V_<id>`, `V_<alias>`: K sends the first, R the
    # second) and every id this viewer may register as (R: the alias its login reply gave it).
    camera_media_ids: tuple[str, ...]
    viewer_media_ids: tuple[str, ...]
    # The app proved it knows this session's viewer id (it named its per-session alias): only
    # a REGISTER naming that id joins, never K's form, which names no viewer.
    requires_viewer_id: bool = False

    @property
    def offer_url(self) -> str:
        """The options block of the action-438 frame and of `accept-video-receive|`."""
        return f"rtp://{self.host}:{self.port}"

    @property
    def key(self) -> tuple[str, str, str | None]:
        """What tells sessions apart: asked again with the same, the same session is given."""
        return (self.camera_media_id, self.viewer_media_id, self.viewer_host)


@dataclass(eq=False)
class Endpoint:
    key: Hashable
    role: Role
    stream: Stream
    session: Session | None  # None for the camera
    channel: int
    kind: str
    ids: tuple[str, str]
    lan: Address
    sink: Sink
    public: Address
    last_seen: float
    replies: TokenBucket
    punches_answered: int = 0
    connects_sent: int = 0
    sent_late_punch: bool = False
    acknowledged: bool = False
    connected: bool = False
    # Security consideration: while a UDP viewer has not echoed the relay's challenges it gets
    # no media and only its proof's byte credit: it may be a spoofed source. None: proven.
    proof: AddressProof | None = None

    @property
    def proven(self) -> bool:
        return self.proof is None

    @property
    def reply_ids(self) -> tuple[str, str]:
        return (self.ids[1], self.ids[0])

    def heard(self, now: float) -> None:
        """Any datagram keeps its sender's whole party alive (camera, or viewer session)."""
        self.last_seen = now
        if self.session is None:
            self.stream.last_activity = now
        elif self.proof is None:
            # Security consideration: a spoofed (unproven) socket cannot keep a session alive.
            self.session.last_activity = now


@dataclass(eq=False)
class Session:
    allocation: Allocation
    stream: Stream
    last_activity: float  # allocation, or the latest datagram from any of the viewer's sockets
    # A direct call, not a bus subscription: the viewer's watcher table must hear every end
    # the relay decides, before the app's next request and never dropped (a bus queue may drop).
    on_end: SessionEnded | None = None
    endpoints: set[Endpoint] = field(default_factory=set)
    taps: set[Tap] = field(default_factory=set)
    started: bool = False  # ViewerStarted was published: a socket of it proved itself


@dataclass(eq=False)
class Stream:
    camera_media_ids: tuple[str, ...]
    camera_host: str | None
    last_activity: float  # the latest datagram from any of the camera's sockets
    # How the camera names itself: "mirrored" (own id, viewer id) or "repeated" (own id twice).
    camera_form: Literal["mirrored", "repeated"] | None = None
    # By (every viewer media id, the host its sockets must come from).
    sessions: dict[tuple[str, str | None], Session] = field(default_factory=dict)
    cameras: dict[int, Endpoint] = field(default_factory=dict)
    viewers: dict[int, set[Endpoint]] = field(default_factory=dict)
    taps: set[Tap] = field(default_factory=set)

    def distinct_sessions(self) -> list[Session]:
        return list({id(session): session for session in self.sessions.values()}.values())
