"""Gather the facts and run every check: from the CLI (asking a running server over HTTP) or
inside the server (its own status)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from fakecloud.core.config import Settings
from fakecloud.doctor import activity, host, names, ports, sockets
from fakecloud.doctor.report import Check, Report
from fakecloud.store import Store
from fakecloud.store.models import SessionEntry

STATUS_TIMEOUT_SECONDS = 3.0
# Security consideration: the doctor reads a server it is pointed at; a huge answer is cut off.
MAX_STATUS_BYTES = 4 << 20


async def fetch_status(server_url: str) -> dict[str, Any] | None:
    """A running server's /api/status (full from a trusted address), or None if it does not
    answer as fakecloud."""
    url = server_url.rstrip("/") + "/api/status"
    try:
        async with httpx.AsyncClient(timeout=STATUS_TIMEOUT_SECONDS) as client:
            async with client.stream("GET", url) as answer:
                body = b""
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_STATUS_BYTES:
                        return None
                if answer.status_code != httpx.codes.OK:
                    return None
    except httpx.HTTPError:
        return None
    try:
        status = json.loads(body)
    except ValueError:
        return None
    return status if isinstance(status, dict) and "parts" in status else None


def check_server(status: Mapping[str, Any] | None, server_url: str) -> Check:
    if status is None:
        return Check(
            "server",
            "fail",
            f"no fakecloud answers at {server_url}",
            "cameras have nothing to connect to; the lookup and login checks need it too",
            "start `fakecloud serve`, or point the doctor at it with --server URL",
        )
    if not isinstance(status.get("parts"), Mapping) or "broker" not in status["parts"]:
        return Check(
            "server",
            "warn",
            f"{server_url} answers with the short status only",
            "the full status is given to trusted networks and signed-in accounts",
            "run the doctor on the server's host, or add this host to FAKECLOUD_TRUSTED_NETWORKS",
        )
    return Check("server", "ok", f"fakecloud {status.get('version', '?')} answers at {server_url}")


SESSION_LOG_ROWS = 200


def read_session_log(settings: Settings) -> list[SessionEntry] | None:
    """The newest session-log lines, or None when there is no database yet (never created)."""
    if not settings.database_path.is_file():
        return None
    with Store(settings.database_path) as store:
        return store.list_sessions(limit=SESSION_LOG_ROWS)


def _port_checks(settings: Settings, status: Mapping[str, Any] | None) -> list[Check]:
    needs = ports.needed_ports(settings)
    served = ports.served_ports(status or {})
    found = sockets.listeners()
    wanted = {(need.protocol, need.port) for need in needs} - served
    relevant = [item for item in found if (item.protocol, item.port) in wanted]
    owners = sockets.socket_owners({item.inode for item in relevant})
    floor, may_bind = ports.unprivileged_port_start(), ports.may_bind_low_ports()
    return [
        ports.check_port(
            need,
            [item for item in relevant if item.protocol == need.protocol],
            owners,
            served,
            status is not None,
            floor,
            may_bind,
            status_is_full=isinstance((status or {}).get("parts"), Mapping),
        )
        for need in needs
    ]


def _host_checks(settings: Settings) -> list[Check]:
    announce = settings.effective_announce_address
    try:
        local = host.is_local_address(announce.split("%", 1)[0])
    except (OSError, ValueError):
        local = False
    return [host.check_announce(settings, local), host.check_ping(announce, local)]


async def run_doctor(
    settings: Settings,
    status: Mapping[str, Any] | None,
    server_url: str,
    resolver: names.Resolver | None = None,
    now: datetime | None = None,
) -> Report:
    now = now or datetime.now(UTC)
    checks = [check_server(status, server_url)]
    # /proc walks, binds and a ping block: off the event loop (the server runs this too).
    checks += await asyncio.to_thread(_port_checks, settings, status)
    checks += await asyncio.to_thread(_host_checks, settings)
    checks.append(await names.check_dns(settings, resolver))
    authority = await asyncio.to_thread(names.load_authority, settings)
    ca_start = None if isinstance(authority, Exception) else authority.ca_certificate
    checks.append(host.check_clock(now, ca_start.not_valid_before_utc if ca_start else None))
    checks += names.check_certificates(settings, authority, now)
    if status is not None and isinstance(status.get("parts"), Mapping):
        checks += [activity.check_lookups(status), activity.check_logins(status)]
    sessions = await asyncio.to_thread(read_session_log, settings)
    checks.append(activity.check_session_log(sessions))
    records = await asyncio.to_thread(activity.recent_records, settings.captures_dir)
    checks.append(activity.check_captures(records, now))
    return Report(tuple(checks))
