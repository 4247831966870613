"""Find this host's LAN address without sending any traffic; compare and group client addresses."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from pathlib import Path

_SIOCGIFADDR = 0x8915
# IPv6 clients are counted per /64: one LAN host can pick any address of its prefix.
IPV6_CLIENT_PREFIX = 64


def default_route_interface(route_table: str | None = None) -> str | None:
    """Name of the interface that carries the IPv4 default route, read from /proc/net/route."""
    if route_table is None:
        try:
            route_table = Path("/proc/net/route").read_text()
        except OSError:
            return None
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            return fields[0]
    return None


def interface_ipv4(name: str) -> str | None:
    """IPv4 address of an interface, asked of the kernel (an ioctl: nothing goes on the wire)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            packed = fcntl.ioctl(
                probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode())
            )
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def detect_lan_address() -> str:
    """The address LAN devices should be told to use; loopback when nothing better is known."""
    interface = default_route_interface()
    if interface:
        address = interface_ipv4(interface)
        if address:
            return address
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            candidate = str(info[4][0])
            if not ipaddress.ip_address(candidate).is_loopback:
                return candidate
    except OSError:
        pass
    return "127.0.0.1"


def same_address(first: str, second: str) -> bool | None:
    """Whether two texts name one IP address (None when either is not an address). A zone
    suffix is ignored and an IPv4-mapped IPv6 address (how a dual-stack listener reports IPv4
    peers) equals its IPv4 address."""
    try:
        addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in (first, second)]
    except ValueError:
        return None
    mine, other = (
        address.ipv4_mapped
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped
        else address
        for address in addresses
    )
    return mine == other


def client_key(host: str) -> str:
    """What the per-address cap counts: the IPv4 address, or the IPv6 /64 prefix."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)
