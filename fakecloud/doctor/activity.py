"""What cameras did lately: vendor lookups and logins (from a running server's status) and
captures that hint at a firmware fakecloud does not speak yet (from the data folder)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fakecloud.capture.records import CURRENT_FILE, CaptureFormatError, decode_record
from fakecloud.doctor.report import Check, ok
from fakecloud.store.models import SessionEntry

# Only the newest part of the capture log is read: recent is what matters, and it bounds the work.
RECENT_CAPTURE_BYTES = 1 << 20
RECENT_CAPTURE_WINDOW = timedelta(days=1)
_DNS_FIX = "point the router's DNS (or the camera's) at this host; see `fakecloud dns-config`"


def _part(status: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    parts = status.get("parts")
    found = parts.get(name) if isinstance(parts, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _number(mapping: Mapping[str, Any], key: str) -> int:
    value = mapping.get(key)
    return value if isinstance(value, int) else 0


def check_lookups(status: Mapping[str, Any]) -> Check:
    """Pure: have devices asked the DNS shim for vendor names since the server started?"""
    dns = _part(status, "dns")
    if not dns:
        return Check("vendor lookups", "skip", "the DNS shim is not part of this server")
    counters = dns.get("counters")
    redirected = _number(counters, "redirected") if isinstance(counters, Mapping) else 0
    listed = dns.get("discovered")
    discovered = listed if isinstance(listed, list) else []
    if redirected == 0:
        return Check(
            "vendor lookups",
            "warn",
            "no device has asked the DNS shim for a vendor name since the server started",
            "a camera that never asks is using another resolver and will not find fakecloud",
            _DNS_FIX,
        )
    return ok(
        "vendor lookups",
        f"{redirected} vendor-name lookups answered since start; "
        f"{len(discovered)} unlisted vendor names seen",
        discovered=discovered,
    )


def check_logins(status: Mapping[str, Any]) -> Check:
    """Pure: have cameras logged in to the broker since the server started?"""
    broker = _part(status, "broker")
    online, good, bad = (
        _number(broker, key) for key in ("cameras_online", "logins_ok", "logins_failed")
    )
    if online:
        return ok("camera logins", f"{online} camera(s) online; {good} logins since start")
    if bad and not good:
        return Check(
            "camera logins",
            "warn",
            f"{bad} login(s) refused and none accepted since start",
            "a camera whose login is refused stays offline",
            "see `fakecloud camera list` (pending cameras are paired with `fakecloud pair`) "
            "and the server's log for the reason",
        )
    return Check(
        "camera logins",
        "warn",
        f"no camera is online ({good} logins since start)",
        "either no camera has reached fakecloud yet, or it reaches something else",
        f"power the camera on; if it never logs in, {_DNS_FIX}",
    )


def check_session_log(entries: Iterable[SessionEntry] | None) -> Check:
    """Pure: the newest camera login in the store's session log (it outlives restarts)."""
    name = "session log"
    if entries is None:
        return Check(name, "skip", "no database in the data folder yet")
    cameras = [entry for entry in entries if entry.role == "camera"]
    accepted = [entry for entry in cameras if entry.event.startswith("login")]
    if accepted:
        last = max(accepted, key=lambda entry: entry.time)
        return ok(
            name,
            f"the last camera login was at {last.time.isoformat(timespec='seconds')} "
            f"from {last.peer}",
            peer=last.peer,
        )
    if cameras:
        last = max(cameras, key=lambda entry: entry.time)
        return Check(
            name,
            "warn",
            f"camera logins were refused (latest from {last.peer}: {last.event}) and none accepted",
            "a camera whose login is refused stays offline",
            "see `fakecloud camera list` and `fakecloud pair`",
        )
    return Check(
        name,
        "warn",
        "no camera has logged in yet",
        "either no camera has reached fakecloud, or it reaches something else",
        _DNS_FIX,
    )


def unknown_protocol_kind(record: Mapping[str, Any]) -> str | None:
    """Pure: which kind of evidence of an unknown firmware a capture record is, if any."""
    kind = record.get("kind")
    if kind == "login" and record.get("known_form") is False:
        return "login of an unknown form"
    return {
        "frame": "CXNet frames fakecloud did not understand",
        "connection": "connections speaking something fakecloud could not place",
        "media-error": "media it could not decode",
    }.get(kind if isinstance(kind, str) else "")


def recent_records(directory: Path, max_bytes: int = RECENT_CAPTURE_BYTES) -> list[dict[str, Any]]:
    """The records in the last `max_bytes` of the current capture file (a cut first line and
    damaged lines are skipped)."""
    path = directory / CURRENT_FILE
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - max_bytes))
            tail = file.read(max_bytes)
    except OSError:
        return []
    lines = tail.decode("utf-8", "replace").splitlines()
    if size > max_bytes:
        lines = lines[1:]
    records = []
    for line in lines:
        try:
            records.append(decode_record(line))
        except CaptureFormatError:
            continue
    return records


def _when(record: Mapping[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record.get("time")))
    except ValueError:
        return None


def check_captures(records: Iterable[Mapping[str, Any]], now: datetime) -> Check:
    """Pure: recent records that suggest a firmware fakecloud does not know yet."""
    since = now - RECENT_CAPTURE_WINDOW
    seen: Counter[str] = Counter()
    for record in records:
        when = _when(record)
        kind = unknown_protocol_kind(record)
        if kind and when is not None and when >= since:
            seen[kind] += 1
    if not seen:
        return ok("captures", "nothing in the last day suggests a firmware fakecloud does not know")
    summary = ", ".join(f"{count} {kind}" for kind, count in seen.most_common())
    return Check(
        "captures",
        "warn",
        f"in the last day: {summary}",
        "a camera may run a firmware (or protocol form) fakecloud does not speak yet",
        "look with `fakecloud captures show`; share `fakecloud captures export` (redacted) "
        "in an issue so fakecloud can learn it",
        dict(seen),
    )
