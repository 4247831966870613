"""Building the CA and leaf certificates (no I/O): what each profile contains and why."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fakecloud.catalogue import normalise
from fakecloud.certs.errors import CertsError

Role = Literal["ca", "device", "app"]
LeafRole = Literal["device", "app"]

RSA_BITS = 2048
# Embedded clients have wrong clocks (often reset to a 2010-ish firmware date) and handle expiry
# badly, so device-facing certificates cover every date such a clock can show. 2049-12-31 is the
# last day encodable as UTCTime, which is all some old X.509 parsers understand.
LONG_NOT_BEFORE = datetime(2010, 1, 1, tzinfo=UTC)
LONG_NOT_AFTER = datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)
# iOS rejects server certificates valid for more than 825 days.
APP_LEAF_LIFETIME = timedelta(days=825)
# Phone clocks are right but not to the second; start the app leaf's life a little in the past.
APP_LEAF_BACKDATE = timedelta(hours=1)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_DNS_NAME = re.compile(rf"(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}")


def _checked_dns_name(name: str) -> str:
    """A name fit for a DNS SAN (ASCII labels, optional leading '*.'), or a CertsError."""
    normalised = normalise(name)
    if len(normalised) > 253 or not _DNS_NAME.fullmatch(normalised):
        raise CertsError(f"{name!r} cannot go into a certificate: not a DNS name")
    return normalised


@dataclass(frozen=True)
class SubjectNames:
    """What a leaf must be valid for: DNS names (wildcards allowed) and IP addresses."""

    dns: frozenset[str]
    ips: frozenset[IpAddress]
    # the subject CN, which old clients read instead of the SAN; not part of what must match
    common_name: str = field(default="fakecloud", compare=False)

    @classmethod
    def build(cls, names: Iterable[str], announce_address: str) -> SubjectNames:
        ordered = [_checked_dns_name(name) for name in names if normalise(name)]
        dns = set(ordered)
        ips: set[IpAddress] = set()
        try:
            # a zone index (fe80::1%eth0) has no place in a certificate
            ips.add(ipaddress.ip_address(announce_address.strip().split("%", 1)[0]))
        except ValueError:
            # an announce *name* (not an address) is still something clients may ask for
            if normalise(announce_address):
                dns.add(_checked_dns_name(announce_address))
        concrete = [name for name in ordered if not name.startswith("*.")]
        common_name = concrete[0] if concrete else announce_address.strip() or "fakecloud"
        return cls(frozenset(dns), frozenset(ips), common_name)

    @classmethod
    def of(cls, certificate: x509.Certificate) -> SubjectNames:
        try:
            san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return cls(frozenset(), frozenset())
        common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return cls(
            frozenset(normalise(name) for name in san.get_values_for_type(x509.DNSName)),
            # A SAN may name networks too (for name constraints); a leaf's names are addresses.
            frozenset(
                ip
                for ip in san.get_values_for_type(x509.IPAddress)
                if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
            ),
            str(common_names[0].value) if common_names else "",
        )

    def extension(self) -> x509.SubjectAlternativeName:
        general: list[x509.GeneralName] = [x509.DNSName(name) for name in sorted(self.dns)]
        general += [x509.IPAddress(ip) for ip in sorted(self.ips, key=str)]
        return x509.SubjectAlternativeName(general)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def key_id(key: rsa.RSAPublicKey) -> str:
    """A short, stable tag of a public key (names the CA so two installs are told apart)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:12]


def _key_usage(authority: bool) -> x509.KeyUsage:
    """A CA signs certificates and CRLs only; a server leaf signs handshakes and, for RSA key
    exchange (legacy device TLS), decrypts the premaster secret sent to its key."""
    return x509.KeyUsage(
        digital_signature=not authority,
        key_encipherment=not authority,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=authority,
        crl_sign=authority,
        encipher_only=False,
        decipher_only=False,
    )


def build_ca(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """Self-signed root: may sign leaves only (pathlen 0), valid 2010-2049.

    The long validity is deliberate: the CA is installed by hand on phones and is never sent by
    cameras with broken clocks, so an expiring root would only break installs for no gain. Its
    protection is the private key staying in the 0700 certs dir, not a short lifetime.
    """
    public = key.public_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fakecloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"fakecloud local CA {key_id(public)}"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(LONG_NOT_BEFORE)
        .not_valid_after(LONG_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(authority=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def build_leaf(
    role: LeafRole,
    key: rsa.RSAPublicKey,
    subject: SubjectNames,
    ca_certificate: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    now: datetime,
) -> x509.Certificate:
    """A server certificate for one profile, signed by the CA."""
    if role == "device":
        not_before, not_after = LONG_NOT_BEFORE, LONG_NOT_AFTER
    else:
        not_before = now - APP_LEAF_BACKDATE
        not_after = not_before + APP_LEAF_LIFETIME
    ca_key_id = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fakecloud"),
                    x509.NameAttribute(NameOID.COMMON_NAME, subject.common_name[:64]),
                ]
            )
        )
        .issuer_name(ca_certificate.subject)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(subject.extension(), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(authority=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
    )
    if role == "app":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def leaf_is_current(
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey,
    subject: SubjectNames,
    ca_certificate: x509.Certificate,
    now: datetime,
    renew_before: timedelta,
) -> bool:
    """False when the leaf must be re-issued: other names, other key, other CA, or near expiry."""
    if certificate.public_key() != key.public_key():
        return False
    if SubjectNames.of(certificate) != subject:
        return False
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return certificate.not_valid_after_utc - now > renew_before


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated hex, the form browsers and openssl show."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def describe_certificate(role: Role, certificate: x509.Certificate) -> dict[str, object]:
    names = SubjectNames.of(certificate)
    sans = [f"DNS:{name}" for name in sorted(names.dns)]
    sans += [f"IP:{ip}" for ip in sorted(names.ips, key=str)]
    return {
        "role": role,
        "subject": certificate.subject.rfc4514_string(),
        "sha256": fingerprint(certificate),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "sans": sans,
    }
