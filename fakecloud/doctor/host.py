"""This host as cameras see it: the announce address, ping, the clock. Nothing here sends a
packet anywhere but to an address of this host."""

from __future__ import annotations

import errno
import ipaddress
import socket
from datetime import UTC, datetime

from fakecloud.core.config import WILDCARD_ADDRESSES, Settings
from fakecloud.core.netinfo import detect_lan_address, same_address
from fakecloud.core.ping import ping
from fakecloud.doctor.report import Check, ok

PING_TIMEOUT_SECONDS = 1.0
# No correct clock reads earlier than this: fakecloud did not exist before it.
EARLIEST_SANE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
_ANNOUNCE_FIX = "set FAKECLOUD_ANNOUNCE_ADDRESS to this host's LAN address"


def is_local_address(address: str) -> bool:
    """Whether an address belongs to this host: only a local address can be bound (asked of the
    kernel; nothing is sent)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError as error:
            if error.errno == errno.EADDRNOTAVAIL:
                return False
            raise
    return True


def check_announce(settings: Settings, local: bool | None = None) -> Check:
    """The address DNS answers and cameras are sent to: an address, of this host, on the LAN."""
    name = "announce address"
    announce = settings.effective_announce_address
    origin = "configured" if settings.announce_address else "detected"
    try:
        address = ipaddress.ip_address(announce.split("%", 1)[0])
    except ValueError:
        return Check(
            name,
            "fail",
            f"the announce address {announce!r} is not an IP address",
            "DNS answers for the vendor names must carry an address",
            _ANNOUNCE_FIX,
        )
    if address.is_unspecified or address.is_multicast:
        return Check(
            name, "fail", f"{announce} cannot be dialled", "cameras need one host", _ANNOUNCE_FIX
        )
    if local is None:
        local = is_local_address(str(address))
    if not local:
        return Check(
            name,
            "fail",
            f"the {origin} announce address {announce} is not an address of this host",
            "DNS would send every camera to a machine where fakecloud is not running",
            f"{_ANNOUNCE_FIX} (this host's LAN address looks like {detect_lan_address()})",
        )
    if address.is_loopback:
        return Check(
            name,
            "warn",
            f"the {origin} announce address {announce} is loopback",
            "fine for tests on this machine, but cameras on the LAN cannot reach it",
            f"{_ANNOUNCE_FIX} (it looks like {detect_lan_address()})",
        )
    bind = settings.bind_address
    if bind not in WILDCARD_ADDRESSES and not same_address(bind, announce):
        return Check(
            name,
            "warn",
            f"{announce} is this host's, but the listeners bind {bind} only",
            "cameras sent to the announce address would find nothing listening",
            "set FAKECLOUD_BIND_ADDRESS to 0.0.0.0 or to the announce address",
        )
    return ok(name, f"{announce} ({origin}) is an address of this host", address=announce)


def check_ping(announce: str, announce_is_local: bool) -> Check:
    """Cameras refuse to finish setup (`fail to ping`) unless server.seedonk.com answers ping."""
    name = "ping"
    why = "during setup the camera pings server.seedonk.com and stops with 'fail to ping'"
    if not announce_is_local:
        return Check(name, "skip", f"not sent: {announce} is not this host's", why)
    if ":" in announce:
        return Check(name, "skip", "not sent: the IPv6 ping check is not written yet", why)
    try:
        answered = ping(announce, PING_TIMEOUT_SECONDS)
    except PermissionError:
        return Check(
            name,
            "skip",
            "not sent: this user may not send ICMP (not root; net.ipv4.ping_group_range)",
            why,
            "run the doctor as root to check, or ping this host from another machine",
        )
    if answered:
        return ok(name, f"{announce} answers ping (from this host)")
    return Check(
        name,
        "fail",
        f"{announce} did not answer ping within {PING_TIMEOUT_SECONDS:g} s",
        why,
        "allow ICMP echo in this host's firewall (e.g. `ufw allow proto icmp`, or "
        "net.ipv4.icmp_echo_ignore_all=0)",
    )


def check_clock(now: datetime, ca_not_before: datetime | None = None) -> Check:
    """A clock far behind makes every certificate 'not yet valid' to TLS clients."""
    name = "clock"
    floor = max(EARLIEST_SANE_TIME, ca_not_before or EARLIEST_SANE_TIME)
    if now < floor:
        return Check(
            name,
            "fail",
            f"this host's clock reads {now.isoformat(timespec='seconds')}, before {floor.date()}",
            "certificates would look not yet valid and logs would be misdated",
            "set the clock (enable NTP: `timedatectl set-ntp true`)",
        )
    return ok(name, f"the clock reads {now.isoformat(timespec='seconds')}")
