"""Ports: each one fakecloud needs is either its own, free for it, or taken (and by what)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakecloud.core.config import Settings
from fakecloud.doctor.report import Check, Status, ok
from fakecloud.doctor.sockets import Listener, Owner

_CAP_NET_BIND_SERVICE = 10


@dataclass(frozen=True)
class Need:
    """A port fakecloud listens on; `critical` when cameras depend on it."""

    protocol: str
    port: int
    purpose: str
    setting: str
    critical: bool = True

    @property
    def label(self) -> str:
        return f"{self.protocol}/{self.port}"


def needed_ports(settings: Settings) -> list[Need]:
    """The ports these settings make fakecloud listen on (port 0, kernel-chosen, is left out)."""
    needs = [Need("tcp", settings.http_port, "web app and the app's REST calls", "HTTP_PORT")]
    needs += [
        Need("tcp", port, "cloud port the cameras and the app connect to", "CLOUD_PORTS")
        for port in settings.listening_ports
    ]
    if settings.dns_enabled:
        needs.append(Need("udp", settings.dns_port, "DNS shim", "DNS_PORT"))
        needs.append(Need("tcp", settings.dns_port, "DNS shim over TCP", "DNS_PORT", False))
    needs.append(Need("udp", settings.relay_port, "media relay for live video", "RELAY_PORT"))
    if settings.rtsp_enabled:
        needs.append(Need("tcp", settings.rtsp_port, "RTSP for NVRs", "RTSP_PORT", False))
    unique = {(need.protocol, need.port): need for need in reversed(needs) if need.port}
    return list(reversed(unique.values()))


def _port_of(address: Any) -> int | None:
    if not isinstance(address, str) or ":" not in address:
        return None
    tail = address.rsplit(":", 1)[1]
    return int(tail) if tail.isdigit() else None


def served_ports(status: Mapping[str, Any]) -> set[tuple[str, int]]:
    """(protocol, port) pairs a running server's /api/status says it listens on."""
    parts = status.get("parts")
    parts = parts if isinstance(parts, Mapping) else {}

    def part(name: str) -> Mapping[str, Any]:
        found = parts.get(name)
        return found if isinstance(found, Mapping) else {}

    served: set[tuple[str, int]] = set()
    for protocol, name in (("tcp", "http"), ("udp", "relay"), ("tcp", "rtsp")):
        port = _port_of(part(name).get("address"))
        # RTSP names its address even when it could not listen there (`listening` false).
        if port and part(name).get("listening") is not False:
            served.add((protocol, port))
    dns_port = part("dns").get("port")
    if isinstance(dns_port, int) and part("dns").get("running"):
        served |= {("udp", dns_port), ("tcp", dns_port)}
    listening = part("frontdoor").get("listening")
    for entry in listening if isinstance(listening, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("port"), int):
            served.add(("tcp", entry["port"]))
    return served


def may_bind_low_ports(proc_self: Path = Path("/proc/self")) -> bool:
    """Whether this user could bind ports below the unprivileged floor (root, or the
    CAP_NET_BIND_SERVICE capability), as `fakecloud serve` started the same way would."""
    if os.geteuid() == 0:
        return True
    try:
        for line in (proc_self / "status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_NET_BIND_SERVICE & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def unprivileged_port_start(proc: Path = Path("/proc")) -> int:
    try:
        return int((proc / "sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


def _is_fakecloud_serve(command: str) -> bool:
    """`fakecloud serve` or `python -m fakecloud serve` (`dns` too: the shim on its own)."""
    words = command.split()
    return any(
        word.rsplit("/", 1)[-1] == "fakecloud"
        and words[index + 1 : index + 2] in (["serve"], ["dns"])
        for index, word in enumerate(words)
    )


def check_port(
    need: Need,
    holders: Iterable[Listener],
    owners: Mapping[int, Owner],
    served: set[tuple[str, int]],
    server_running: bool,
    low_port_floor: int = 1024,
    may_bind_low: bool = True,
    status_is_full: bool = False,
) -> Check:
    """One port: fakecloud's own, free for it, or taken by another program (named if known).
    `status_is_full`: the server listed every part's listeners, so a port it does not list is
    not its own, even when another `fakecloud serve` (a second one on this host) holds it."""
    name = f"port {need.label}"
    env = f"FAKECLOUD_{need.setting}"
    if (need.protocol, need.port) in served:
        return ok(name, f"fakecloud listens on {need.label} ({need.purpose})")
    holding = [listener for listener in holders if listener.port == need.port]
    severity: Status = "fail" if need.critical else "warn"
    known = [owners[h.inode] for h in holding if h.inode in owners]
    if not status_is_full and known and all(_is_fakecloud_serve(o.command) for o in known):
        # The server did not say (a short status, or none): its process name does.
        pids = ", ".join(str(owner.pid) for owner in known)
        return ok(name, f"fakecloud (pid {pids}) listens on {need.label} ({need.purpose})")
    if holding:
        who = (
            ", ".join(f"{owner.command} (pid {owner.pid})" for owner in known)
            if known
            else "another program (run the doctor as root, or `ss -lntup`, to see which)"
        )
        return Check(
            name,
            severity,
            f"{need.label} ({need.purpose}) is taken by {who}",
            f"fakecloud cannot listen there, so nothing reaches its {need.purpose}",
            f"stop that program, or give fakecloud another port with {env}",
            {"holders": [h.address for h in holding], "pids": [owner.pid for owner in known]},
        )
    if server_running:
        return Check(
            name,
            severity,
            f"fakecloud is running but nothing listens on {need.label} ({need.purpose})",
            "that part did not start; its reason is in the server's log and /api/status",
            f"read the server's log, fix what it names, restart; or change {env}",
        )
    if need.port < low_port_floor and not may_bind_low:
        return Check(
            name,
            "warn",
            f"{need.label} is free, but this user may not bind ports below {low_port_floor}",
            "fakecloud started as this user would not get the port",
            "run it as root, `setcap cap_net_bind_service=+ep` on the Python binary, or "
            "Docker `cap_add: [NET_BIND_SERVICE]`",
        )
    return ok(name, f"{need.label} is free for fakecloud ({need.purpose}); it is not running")
