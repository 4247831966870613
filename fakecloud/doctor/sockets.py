"""Which sockets listen on this host, and which process holds each: read from /proc (Linux), so
it needs no tool and no privilege beyond what /proc shows this user."""

from __future__ import annotations

import ipaddress
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

Protocol = str  # "tcp" or "udp"
_TCP_LISTEN = "0A"
# A bound UDP socket with no peer: the remote address is all zeroes.
_NO_PEER = re.compile(r"0+:0000")
_SOCKET_LINK = re.compile(r"socket:\[(\d+)\]")
# Bounds on the /proc walk, so a host with very many processes cannot stall the doctor.
MAX_PROCESSES = 20_000
MAX_WALK_SECONDS = 2.0


@dataclass(frozen=True)
class Listener:
    protocol: Protocol
    address: str
    port: int
    inode: int


@dataclass(frozen=True)
class Owner:
    pid: int
    command: str


def _address(hex_address: str) -> str:
    """/proc/net's address: each 32-bit word in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    if len(raw) not in (4, 16):
        raise ValueError("not an IPv4 or IPv6 address")
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(swapped))


def parse_proc_net(text: str, protocol: Protocol) -> list[Listener]:
    """The listening (TCP) or bound, unconnected (UDP) sockets of one /proc/net table. Lines
    that are not socket lines are skipped, so a damaged or future table gives fewer answers,
    never an error."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if protocol == "tcp" and state.upper() != _TCP_LISTEN:
            continue
        if protocol == "udp" and not _NO_PEER.fullmatch(remote):
            continue
        host, _, port = local.partition(":")
        try:
            found.append(Listener(protocol, _address(host), int(port, 16), int(inode)))
        except ValueError:
            continue
    return found


def listeners(proc: Path = Path("/proc")) -> list[Listener]:
    """Every TCP listener and bound UDP socket of this host (IPv4 and IPv6)."""
    found = []
    for table, protocol in (("tcp", "tcp"), ("tcp6", "tcp"), ("udp", "udp"), ("udp6", "udp")):
        try:
            text = (proc / "net" / table).read_text()
        except OSError:
            continue
        found += parse_proc_net(text, protocol)
    return found


def socket_owners(inodes: set[int], proc: Path = Path("/proc")) -> dict[int, Owner]:
    """Which process holds each socket inode, where /proc lets this user see it (another
    user's descriptors are hidden without root)."""
    owners: dict[int, Owner] = {}
    deadline = time.monotonic() + MAX_WALK_SECONDS
    try:
        pids = [entry for entry in os.listdir(proc) if entry.isdigit()][:MAX_PROCESSES]
    except OSError:
        return owners
    for pid in pids:
        if len(owners) == len(inodes) or time.monotonic() > deadline:
            break
        for inode in _socket_inodes(proc / pid / "fd") & inodes:
            owners[inode] = Owner(int(pid), _command(proc / pid))
    return owners


def _socket_inodes(fd_dir: Path) -> set[int]:
    """The socket inodes among a process's descriptors (each read on its own: one may close
    while it is read, such as the one listing the folder)."""
    try:
        descriptors = os.listdir(fd_dir)
    except OSError:
        return set()
    found = set()
    for descriptor in descriptors:
        try:
            match = _SOCKET_LINK.fullmatch(os.readlink(fd_dir / descriptor))
        except OSError:
            continue
        if match:
            found.add(int(match.group(1)))
    return found


def _command(process: Path) -> str:
    try:
        words = (process / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(word.decode("utf-8", "replace") for word in words if word)
    return text[:200] or "?"
