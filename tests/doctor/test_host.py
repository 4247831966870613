"""Announce address, ping and clock verdicts (only loopback is ever sent to)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from fakecloud.core.config import Settings
from fakecloud.doctor.host import (
    check_announce,
    check_clock,
    check_ping,
    is_local_address,
)


def test_local_addresses_are_told_apart_without_traffic() -> None:
    assert is_local_address("127.0.0.1") and is_local_address("127.3.4.5")
    assert not is_local_address("198.51.100.7")


def tuned(settings: Settings, **changes: object) -> Settings:
    """New settings, not model_copy: that would keep the cached effective announce address."""
    return Settings(**(settings.model_dump() | changes))


def test_announce_verdicts(settings: Settings) -> None:
    assert check_announce(settings).status == "warn"  # loopback: for tests only
    foreign = tuned(settings, announce_address="198.51.100.7")
    assert check_announce(foreign).status == "fail"
    assert check_announce(foreign, local=True).status == "warn"  # bind 127.0.0.1 only
    wildcard = tuned(foreign, bind_address="0.0.0.0")
    assert check_announce(wildcard, local=True).status == "ok"
    assert check_announce(tuned(settings, announce_address="0.0.0.0")).status == "fail"
    assert check_announce(tuned(settings, announce_address="nas")).status == "fail"


def test_an_echo_request_is_answered_by_this_host() -> None:
    found = check_ping("127.0.0.1", True)
    # Without root and without net.ipv4.ping_group_range the check is skipped, with the reason.
    assert found.status == ("ok" if os.geteuid() == 0 else found.status)
    assert found.status in ("ok", "skip")
    assert check_ping("198.51.100.7", False).status == "skip"


def test_a_clock_in_the_past_fails() -> None:
    assert check_clock(datetime(2020, 1, 1, tzinfo=UTC)).status == "fail"
    assert check_clock(datetime.now(UTC)).status == "ok"
    ca_made = datetime(2030, 1, 1, tzinfo=UTC)
    assert check_clock(datetime(2029, 1, 1, tzinfo=UTC), ca_made).status == "fail"
