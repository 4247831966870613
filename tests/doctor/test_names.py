"""DNS and certificate verdicts, against a real DNS shim and a real CA in a temporary folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.catalogue import load_catalogue
from fakecloud.certs.for_settings import ensure_authority
from fakecloud.core.config import Settings
from fakecloud.dns import DnsPart
from fakecloud.doctor.names import (
    Resolver,
    check_certificates,
    check_dns,
    expected_answers,
    judge_answers,
    load_authority,
)


def test_resolver_text_forms() -> None:
    assert Resolver.parse("192.168.1.1") == Resolver("192.168.1.1", 53)
    assert Resolver.parse("127.0.0.1:5353") == Resolver("127.0.0.1", 5353)
    assert str(Resolver.parse("[::1]:53")) == "[::1]:53"
    for bad in ("router:53", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            Resolver.parse(bad)


@given(st.text(max_size=60))
def test_any_resolver_text_parses_or_is_refused(text: str) -> None:
    try:
        resolver = Resolver.parse(text)
    except ValueError:
        return
    assert 0 < resolver.port < 65536


def test_judging_answers() -> None:
    where = Resolver("127.0.0.1", 53)
    expected = {"a.example": "10.0.0.2", "b.example": "10.0.0.2"}
    assert (
        judge_answers(
            where, expected, {"a.example": ["10.0.0.2"], "b.example": ["10.0.0.2"]}
        ).status
        == "ok"
    )
    assert "does not answer" in judge_answers(where, expected, dict.fromkeys(expected)).what
    wrong = judge_answers(where, expected, {"a.example": ["1.2.3.4"], "b.example": None})
    assert wrong.status == "fail" and "a.example -> 1.2.3.4" in wrong.what
    assert wrong.details["silent"] == ["b.example"]


async def test_the_real_shim_answers_every_name(settings: Settings) -> None:
    shim = DnsPart(settings, load_catalogue(settings.extra_hostnames))
    await shim.start()
    try:
        assert shim.port
        found = await check_dns(settings, Resolver("127.0.0.1", shim.port))
    finally:
        await shim.stop()
    assert found.status == "ok", found
    assert str(len(expected_answers(settings))) in found.what


async def test_dns_off_is_advice(settings: Settings) -> None:
    off = settings.model_copy(update={"dns_enabled": False})
    assert (await check_dns(off, None)).status == "warn"


def test_certificates_missing_valid_and_misnamed(settings: Settings) -> None:
    now = datetime.now(UTC)
    [missing] = check_certificates(settings, load_authority(settings), now)
    assert missing.status == "warn"
    ensure_authority(settings)
    [fine] = check_certificates(settings, load_authority(settings), now)
    assert fine.status == "ok"
    renamed = settings.model_copy(update={"extra_hostnames": ["new.example.com"]})
    misnamed = check_certificates(renamed, load_authority(renamed), now)
    assert {check.status for check in misnamed} == {"warn"}
    assert "new.example.com" in misnamed[0].what
    late = check_certificates(settings, load_authority(settings), now + timedelta(days=9000))
    assert {check.status for check in late} == {"fail"}
