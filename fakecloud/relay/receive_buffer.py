"""A UDP socket's kernel receive buffer, made big enough for many cameras' video.

Every camera's media arrives on the relay's one UDP socket. Linux's default receive buffer
(net.core.rmem_default, 208 KiB) holds only about 90 datagrams whatever their size, so on a busy
machine a pause of the event loop of a few tens of milliseconds with 50 cameras streaming lets
the kernel drop datagrams; a dropped piece of a keyframe costs an H.264 viewer the whole group
of pictures (measured with bench/events: 12 % of keyframes never reached motion detection and
its events came seconds late). SO_RCVBUFFORCE (allowed with CAP_NET_ADMIN, e.g. as root) goes
past net.core.rmem_max; otherwise SO_RCVBUF is capped by it, and the caller says so.
"""

from __future__ import annotations

import socket
import sys
from typing import Protocol

# Asked for; Linux grants twice that (the doubled part is its own bookkeeping), so 8 MiB: a
# quarter of a second of 50 cameras at 2 Mbit/s, and room for datagram overheads.
WANTED_BYTES = 4 << 20
# Linux's number for SO_RCVBUFFORCE (the socket module names it from Python 3.12 on).
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


class OptionSocket(Protocol):
    """What is needed of a socket (asyncio's TransportSocket has it too)."""

    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...

    def getsockopt(self, level: int, option: int, /) -> int: ...


def enlarge_receive_buffer(sock: OptionSocket, wanted: int = WANTED_BYTES) -> int:
    """Ask for a `wanted`-byte receive buffer, forced where allowed; the size granted."""
    forced = [SO_RCVBUFFORCE] if sys.platform == "linux" else []
    for option in (*forced, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, wanted)
        except OSError:
            continue  # not allowed to force it: SO_RCVBUF, capped by net.core.rmem_max
        break
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
