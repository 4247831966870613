"""Lookups, logins and unknown-firmware hints, from a status and a real capture log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakecloud.capture.log import CaptureLog
from fakecloud.doctor.activity import (
    check_captures,
    check_logins,
    check_lookups,
    check_session_log,
    recent_records,
    unknown_protocol_kind,
)
from fakecloud.store.models import SessionEntry


def status(dns: object = None, broker: object = None) -> dict[str, object]:
    parts = {name: part for name, part in (("dns", dns), ("broker", broker)) if part is not None}
    return {"parts": parts}


def test_lookups() -> None:
    assert check_lookups(status()).status == "skip"
    assert check_lookups(status({"counters": {"redirected": 0}})).status == "warn"
    seen = check_lookups(status({"counters": {"redirected": 3}, "discovered": ["x.seedonk.com"]}))
    assert seen.status == "ok" and seen.details["discovered"] == ["x.seedonk.com"]
    assert check_lookups(status({"counters": "junk", "discovered": 5})).status == "warn"


def test_logins() -> None:
    assert check_logins(status(broker={"cameras_online": 1, "logins_ok": 2})).status == "ok"
    refused = check_logins(status(broker={"logins_failed": 2}))
    assert refused.status == "warn" and "refused" in refused.what
    assert check_logins(status(broker={})).status == "warn"


def test_unknown_firmware_hints_from_a_real_capture_log(tmp_path: Path) -> None:
    log = CaptureLog(tmp_path, max_bytes=1 << 20)
    log.record("login", known_form=False)
    log.record("login", known_form=True)
    log.record("frame", data=b"\x00\x01", action=9)
    log.record("dns", name="x.seedonk.com")
    log.close()
    records = recent_records(tmp_path)
    assert len(records) == 4
    now = datetime.now(UTC)
    found = check_captures(records, now)
    assert found.status == "warn"
    assert found.details == {
        "login of an unknown form": 1,
        "CXNet frames fakecloud did not understand": 1,
    }
    assert check_captures(records, now + timedelta(days=2)).status == "ok"


def test_only_the_tail_of_a_big_log_is_read(tmp_path: Path) -> None:
    log = CaptureLog(tmp_path, max_bytes=1 << 20)
    for number in range(200):
        log.record("frame", number=number)
    log.close()
    tail = recent_records(tmp_path, max_bytes=2000)
    assert 0 < len(tail) < 200 and tail[-1]["number"] == 199
    assert recent_records(tmp_path / "none") == []


def test_record_kinds() -> None:
    assert unknown_protocol_kind({"kind": "media-error"}) == "media it could not decode"
    assert unknown_protocol_kind({"kind": ["x"]}) is None
    assert unknown_protocol_kind({"kind": "http"}) is None


def entry(role: str, event: str, minutes_ago: int) -> SessionEntry:
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return SessionEntry(1, when, None, "alice", role, "192.168.1.23:4000", event)


def test_session_log() -> None:
    assert check_session_log(None).status == "skip"
    assert check_session_log([]).status == "warn"
    assert check_session_log([entry("app", "login password", 1)]).status == "warn"
    refused = check_session_log([entry("camera", "wrong password", 1)])
    assert refused.status == "warn" and "refused" in refused.what
    found = check_session_log([entry("camera", "login password", 5), entry("camera", "logout", 1)])
    assert found.status == "ok" and "192.168.1.23" in found.what
