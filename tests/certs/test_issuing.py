"""What each certificate contains, and the decoders' behaviour on arbitrary bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.certs import CertificateAuthority, CertsError
from fakecloud.certs.issuing import SubjectNames, fingerprint
from fakecloud.certs.storage import decode_certificate, decode_private_key
from tests.certs.conftest import ANNOUNCE, redirected_names


def _extension(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension:
    return certificate.extensions.get_extension_for_class(kind)


def test_ca_may_sign_leaves_only(shared_authority: CertificateAuthority) -> None:
    ca = shared_authority.ca_certificate
    constraints = _extension(ca, x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca and constraints.value.path_length == 0
    usage = _extension(ca, x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert ca.subject == ca.issuer


def test_device_leaf_covers_broken_clocks(shared_authority: CertificateAuthority) -> None:
    device = shared_authority.leaf_certificate("device")
    assert device.not_valid_before_utc == datetime(2010, 1, 1, tzinfo=UTC)
    assert device.not_valid_after_utc.date().isoformat() == "2049-12-31"
    assert isinstance(device.signature_hash_algorithm, hashes.SHA256)
    public = device.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048


def test_leaves_name_every_redirected_host_and_the_address(
    shared_authority: CertificateAuthority,
) -> None:
    wanted = SubjectNames.build(redirected_names(), ANNOUNCE)
    assert "*.seedonk.com" in wanted.dns
    for role in ("device", "app"):
        assert SubjectNames.of(shared_authority.leaf_certificate(role)) == wanted


def test_app_leaf_meets_ios_rules(shared_authority: CertificateAuthority) -> None:
    app = shared_authority.leaf_certificate("app")
    assert app.not_valid_after_utc - app.not_valid_before_utc <= timedelta(days=825)
    assert app.not_valid_before_utc <= datetime.now(UTC) < app.not_valid_after_utc
    eku = _extension(app, x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert isinstance(app.signature_hash_algorithm, hashes.SHA256)
    app.verify_directly_issued_by(shared_authority.ca_certificate)


def test_describe_lists_every_certificate(shared_authority: CertificateAuthority) -> None:
    described = shared_authority.describe()
    assert [entry["role"] for entry in described] == ["ca", "device", "app"]
    assert described[0]["sha256"] == fingerprint(shared_authority.ca_certificate)
    assert "DNS:*.seedonk.com" in described[1]["sans"]
    assert f"IP:{ANNOUNCE}" in described[2]["sans"]
    for entry in described:
        assert set(entry) >= {"subject", "not_before", "not_after", "sans", "path"}


def test_announce_name_becomes_a_dns_san() -> None:
    names = SubjectNames.build(["server.seedonk.com"], "fakecloud.lan")
    assert names.dns == {"server.seedonk.com", "fakecloud.lan"} and not names.ips
    assert names.common_name == "server.seedonk.com"


@pytest.mark.parametrize("bad", ["bad name.com", "caméra.example", "a..b", "*.*.x", "-x.com"])
def test_unusable_hostname_is_a_clear_error(bad: str) -> None:
    with pytest.raises(CertsError, match="not a DNS name"):
        SubjectNames.build(["server.seedonk.com", bad], ANNOUNCE)


@given(st.binary(max_size=2048))
def test_certificate_decoder_raises_only_its_error(data: bytes) -> None:
    try:
        decode_certificate(data, "fuzz")
    except CertsError:
        pass


@given(
    st.one_of(
        st.binary(max_size=2048),
        st.binary(max_size=1024).map(
            lambda body: b"-----BEGIN PRIVATE KEY-----\n" + body + b"\n-----END PRIVATE KEY-----\n"
        ),
    )
)
def test_private_key_decoder_raises_only_its_error(data: bytes) -> None:
    try:
        decode_private_key(data, "fuzz")
    except CertsError:
        pass


@given(st.lists(st.text(max_size=80), max_size=5), st.text(max_size=60))
def test_subject_names_raise_only_their_error(names: list[str], announce: str) -> None:
    try:
        built = SubjectNames.build(names, announce)
    except CertsError:
        return
    built.extension()  # whatever was accepted must be encodable in a certificate


def test_zone_index_is_left_out_of_the_ip_san() -> None:
    names = SubjectNames.build(["server.seedonk.com"], "fe80::1%eth0")
    assert [str(ip) for ip in names.ips] == ["fe80::1"]
