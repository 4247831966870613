"""WS-UsernameToken checks against a real store: digests with the derived ONVIF password,
freshness and replay, PasswordText with the ONVIF password, a token or the account password."""

from __future__ import annotations

import base64
import hashlib
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fakecloud.onvif.auth import (
    FRESHNESS_SECONDS,
    KEY_FILE,
    TokenChecker,
    load_key,
    onvif_password,
    password_digest,
)
from fakecloud.onvif.soap import SoapFault, UsernameToken
from tests.onvif.conftest import LOGIN, PASSWORD, Onvif


def test_the_digest_is_the_ws_security_one() -> None:
    nonce, created = b"\x01" * 16, "2026-01-01T00:00:00Z"
    expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"pw").digest()).decode()
    assert password_digest(nonce, created, "pw") == expected


def test_the_key_is_private_and_kept(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert load_key(tmp_path) == key and len(key) == 32


def digest_token(
    secret: str, *, created: datetime | None = None, nonce: bytes = b"n" * 16
) -> UsernameToken:
    stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return UsernameToken(LOGIN, password_digest(nonce, stamp, secret), True, nonce, stamp)


def checker(onvif: Onvif) -> TokenChecker:
    return TokenChecker(onvif.store, load_key(onvif.part.settings.data_dir))


async def refused(check: TokenChecker, token: UsernameToken) -> None:
    with pytest.raises(SoapFault) as fault:
        await check.account_for(token, "127.0.0.1")
    assert fault.value.subcode == "NotAuthorized"


async def test_a_fresh_digest_passes_once(onvif: Onvif) -> None:
    check = checker(onvif)
    token = digest_token(onvif.onvif_password)
    assert (await check.account_for(token, "127.0.0.1")).login == LOGIN
    await refused(check, token)  # the same nonce again: a replay


async def test_stale_wrong_or_unknown_digests_are_refused(onvif: Onvif) -> None:
    check = checker(onvif)
    stale = datetime.now(UTC) - timedelta(seconds=FRESHNESS_SECONDS + 60)
    await refused(check, digest_token(onvif.onvif_password, created=stale))
    await refused(check, digest_token(PASSWORD))  # the account password is not the digest one
    unknown = digest_token(onvif.onvif_password, nonce=b"m" * 16)
    await refused(check, UsernameToken("mallory", *list(unknown.__dict__.values())[1:]))


async def test_password_text_takes_the_onvif_password_a_token_or_the_password(onvif: Onvif) -> None:
    check = checker(onvif)
    api_token = await onvif.store.issue_token(LOGIN)
    for secret in (onvif.onvif_password, api_token, PASSWORD):
        token = UsernameToken(LOGIN, secret, False, b"", "")
        assert (await check.account_for(token, "127.0.0.1")).login == LOGIN
    await refused(check, UsernameToken(LOGIN, "wrong password", False, b"", ""))


async def test_the_onvif_password_changes_when_the_account_is_made_anew(onvif: Onvif) -> None:
    key = load_key(onvif.part.settings.data_dir)
    before = await onvif.store.get_account(LOGIN)
    assert before is not None and onvif_password(key, before) == onvif.onvif_password
    await onvif.store.remove_account(LOGIN)
    again = await onvif.store.add_account(LOGIN, PASSWORD)
    assert onvif_password(key, again) != onvif.onvif_password
