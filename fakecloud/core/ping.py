"""One ICMP echo (ping) and its codec. Used to check this host answers ping, as cameras demand
during setup, and by the setup-mode camera simulator."""

from __future__ import annotations

import os
import select
import socket
import struct
import time

_ECHO_REQUEST = 8
_ECHO_REPLY = 0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(identifier: int, sequence: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, identifier, sequence)
    checksum = _checksum(header + payload)
    return struct.pack("!BBHHH", _ECHO_REQUEST, 0, checksum, identifier, sequence) + payload


def is_echo_reply(packet: bytes, payload: bytes) -> bool:
    """An ICMP echo reply carrying our payload (a raw socket's reply starts with the IP header)."""
    if packet and packet[0] >> 4 == 4:
        packet = packet[(packet[0] & 0x0F) * 4 :]
    return len(packet) >= 8 and packet[0] == _ECHO_REPLY and packet[8:] == payload


def _icmp_socket() -> socket.socket:
    """Unprivileged ICMP (allowed by net.ipv4.ping_group_range), else raw (root only)."""
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    except PermissionError:
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)


def ping(address: str, timeout: float) -> bool:
    """Whether an IPv4 address answers one echo within `timeout` seconds (blocking).
    PermissionError when this user may not send ICMP at all."""
    payload = os.urandom(16)
    with _icmp_socket() as probe:
        probe.sendto(echo_request(os.getpid() & 0xFFFF, 1, payload), (address, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([probe], [], [], left)[0]:
                return False
            if is_echo_reply(probe.recv(2048), payload):
                return True
    return False
