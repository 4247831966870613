"""The relay's UDP receive buffer: enlarged on a real socket, forced where allowed, else as far
as net.core.rmem_max lets SO_RCVBUF go."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from fakecloud.relay.receive_buffer import SO_RCVBUFFORCE, WANTED_BYTES, enlarge_receive_buffer


def granted(sock: socket.socket) -> int:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def test_a_socket_gets_more_than_the_default() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        default = granted(sock)
        size = enlarge_receive_buffer(sock)
        assert size == granted(sock) > default
        if os.geteuid() == 0:  # allowed to force it past net.core.rmem_max
            assert size >= WANTED_BYTES


class Unforced:
    """A real socket that refuses SO_RCVBUFFORCE, as it is for a user without CAP_NET_ADMIN."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def setsockopt(self, level: int, option: int, value: int, /) -> None:
        if option == SO_RCVBUFFORCE:
            raise PermissionError(1, "Operation not permitted")
        self.sock.setsockopt(level, option, value)

    def getsockopt(self, level: int, option: int, /) -> int:
        return self.sock.getsockopt(level, option)


def test_without_the_right_to_force_it_rmem_max_caps_it() -> None:
    cap = int(Path("/proc/sys/net/core/rmem_max").read_text())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        size = enlarge_receive_buffer(Unforced(sock))
        assert size == granted(sock) == 2 * min(cap, WANTED_BYTES)  # Linux reports it doubled
