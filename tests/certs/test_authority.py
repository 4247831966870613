"""The certs dir on disk: created once, keys kept and private, leaves re-issued when needed."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakecloud.certs import CertificateAuthority, CertsError
from fakecloud.certs.authority import Clock, utc_now
from fakecloud.certs.issuing import SubjectNames, fingerprint
from fakecloud.certs.storage import write_new_private
from tests.certs.conftest import ANNOUNCE, redirected_names

KEY_FILES = ("ca.key", "device.key", "app.key")
ALL_FILES = (*KEY_FILES, "ca.pem", "ca.der", "ca.mobileconfig", "device.pem", "app.pem")


def _ensure(
    certs_dir: Path,
    names: list[str] | None = None,
    announce_address: str = ANNOUNCE,
    clock: Clock = utc_now,
) -> CertificateAuthority:
    return CertificateAuthority.ensure(
        certs_dir, names or redirected_names(), announce_address, clock=clock
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_everything_private(certs_dir: Path) -> None:
    authority = _ensure(certs_dir)
    assert sorted(path.name for path in certs_dir.iterdir()) == sorted(ALL_FILES)
    assert _mode(certs_dir) == 0o700
    for name in KEY_FILES:
        assert _mode(certs_dir / name) == 0o600, name
    assert authority.ca_pem_path == certs_dir / "ca.pem"
    assert authority.ca_der_path.read_bytes() == authority.export("der")
    assert authority.mobileconfig_path.read_bytes() == authority.export("mobileconfig")
    der = authority.ca_certificate.public_bytes(serialization.Encoding.DER)
    assert authority.ca_der_path.read_bytes() == der


def test_keys_are_private_even_with_a_permissive_umask(certs_dir: Path) -> None:
    previous = os.umask(0)
    try:
        _ensure(certs_dir)
    finally:
        os.umask(previous)
    assert all(_mode(certs_dir / name) == 0o600 for name in KEY_FILES)
    assert _mode(certs_dir) == 0o700


def test_restart_keeps_the_same_ca_and_leaves(certs_dir: Path) -> None:
    first = _ensure(certs_dir)
    keys = {name: (certs_dir / name).read_bytes() for name in KEY_FILES}
    second = _ensure(certs_dir)
    assert {name: (certs_dir / name).read_bytes() for name in KEY_FILES} == keys
    assert fingerprint(second.ca_certificate) == fingerprint(first.ca_certificate)
    assert second.describe() == first.describe()


def test_changed_names_reissue_leaves_with_the_same_keys(certs_dir: Path) -> None:
    first = _ensure(certs_dir)
    keys = {name: (certs_dir / name).read_bytes() for name in KEY_FILES}
    second = _ensure(
        certs_dir, names=[*redirected_names(), "cam.example.net"], announce_address="127.0.0.2"
    )
    assert {name: (certs_dir / name).read_bytes() for name in KEY_FILES} == keys
    assert fingerprint(second.ca_certificate) == fingerprint(first.ca_certificate)
    for role in ("device", "app"):
        names = SubjectNames.of(second.leaf_certificate(role))
        assert "cam.example.net" in names.dns
        assert [str(ip) for ip in names.ips] == ["127.0.0.2"]
        assert fingerprint(second.leaf_certificate(role)) != fingerprint(
            first.leaf_certificate(role)
        )


def test_app_leaf_near_expiry_is_renewed_on_start(certs_dir: Path) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=800)
    old = _ensure(certs_dir, clock=lambda: long_ago)
    assert old.leaf_certificate("app").not_valid_after_utc < datetime.now(UTC) + timedelta(30)
    fresh = _ensure(certs_dir)
    assert fresh.leaf_certificate("app").not_valid_after_utc > datetime.now(UTC) + timedelta(800)
    assert fingerprint(fresh.leaf_certificate("device")) == fingerprint(
        old.leaf_certificate("device")
    )


def test_renew_app_leaf_keeps_key_and_replaces_certificate(certs_dir: Path) -> None:
    authority = _ensure(certs_dir)
    before = authority.leaf_certificate("app")
    key = (certs_dir / "app.key").read_bytes()
    authority.renew_app_leaf()
    after = authority.leaf_certificate("app")
    assert after.serial_number != before.serial_number
    assert (certs_dir / "app.key").read_bytes() == key
    assert (certs_dir / "app.pem").read_bytes() == after.public_bytes(serialization.Encoding.PEM)


def test_lost_ca_certificate_is_rebuilt_from_the_kept_key(certs_dir: Path) -> None:
    first = _ensure(certs_dir)
    (certs_dir / "ca.pem").unlink()
    second = _ensure(certs_dir)
    assert second.ca_certificate.subject == first.ca_certificate.subject
    assert second.ca_certificate.public_key() == first.ca_certificate.public_key()
    # the leaves signed by the old certificate still chain to the rebuilt one
    assert fingerprint(second.leaf_certificate("device")) == fingerprint(
        first.leaf_certificate("device")
    )


def test_ca_certificate_without_its_key_is_refused(certs_dir: Path) -> None:
    _ensure(certs_dir)
    (certs_dir / "ca.key").unlink()
    with pytest.raises(CertsError, match=r"ca\.key does not"):
        _ensure(certs_dir)
    assert not (certs_dir / "ca.key").exists()


def test_foreign_ca_certificate_is_refused(certs_dir: Path, tmp_path: Path) -> None:
    _ensure(certs_dir)
    other = _ensure(tmp_path / "other")
    (certs_dir / "ca.pem").write_bytes(other.ca_pem_path.read_bytes())
    with pytest.raises(CertsError, match="does not belong"):
        _ensure(certs_dir)


def test_loose_key_permissions_are_tightened(certs_dir: Path) -> None:
    _ensure(certs_dir)
    (certs_dir / "device.key").chmod(0o644)
    certs_dir.chmod(0o755)
    _ensure(certs_dir)
    assert _mode(certs_dir / "device.key") == 0o600
    assert _mode(certs_dir) == 0o700


def test_unreadable_leaf_certificate_is_reissued(certs_dir: Path) -> None:
    _ensure(certs_dir)
    (certs_dir / "device.pem").write_bytes(b"garbage")
    authority = _ensure(certs_dir)
    authority.leaf_certificate("device").verify_directly_issued_by(authority.ca_certificate)


def test_private_files_are_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "secret.key"
    assert write_new_private(target, b"first")
    assert not write_new_private(target, b"second")
    assert target.read_bytes() == b"first"
    assert [path.name for path in tmp_path.iterdir()] == ["secret.key"]


def test_load_is_read_only_and_needs_a_ca(certs_dir: Path) -> None:
    with pytest.raises(CertsError, match="certs create"):
        CertificateAuthority.load(certs_dir)
    assert not certs_dir.exists()
    created = _ensure(certs_dir)
    assert CertificateAuthority.load(certs_dir).describe() == created.describe()


# No deadline: each example reads keys from disk, which a busy machine may slow past 200 ms.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    victim=st.sampled_from(["ca.pem", "ca.key", "app.key"]),
    content=st.binary(max_size=512),
)
def test_corrupt_files_give_a_clear_error_and_are_kept(
    shared_authority: CertificateAuthority,
    tmp_path_factory: pytest.TempPathFactory,
    victim: str,
    content: bytes,
) -> None:
    certs_dir = tmp_path_factory.mktemp("corrupt") / "certs"
    certs_dir.mkdir(mode=0o700)
    for path in shared_authority.certs_dir.iterdir():
        (certs_dir / path.name).write_bytes(path.read_bytes())
        (certs_dir / path.name).chmod(0o600)
    (certs_dir / victim).write_bytes(content)
    with pytest.raises(CertsError, match=victim.replace(".", r"\.")):
        _ensure(certs_dir)
    assert (certs_dir / victim).read_bytes() == content
