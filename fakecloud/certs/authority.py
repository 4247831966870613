"""The local certificate authority: files in the certs dir, leaves kept current, TLS contexts."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fakecloud.certs import storage
from fakecloud.certs.errors import CertsError
from fakecloud.certs.issuing import (
    LeafRole,
    SubjectNames,
    build_ca,
    build_leaf,
    describe_certificate,
    leaf_is_current,
    new_key,
)
from fakecloud.certs.mobileconfig import build_mobileconfig
from fakecloud.certs.tls import (
    DEFAULT_APP_NAMES,
    DEVICE_CIPHERS,
    AppNameMatcher,
    LeafFiles,
    Profile,
    SniContexts,
)

log = logging.getLogger(__name__)

ExportFormat = Literal["pem", "der", "mobileconfig"]
Clock = Callable[[], datetime]

# An app leaf this close to expiry is renewed on the next start.
APP_RENEW_BEFORE = timedelta(days=30)
_NEVER_RENEW = timedelta(0)
LEAF_ROLES: tuple[LeafRole, ...] = ("device", "app")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Leaf:
    files: LeafFiles
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate


class CertificateAuthority:
    """A CA with a device leaf (long-lived, legacy TLS) and an app leaf (<= 825 days).

    Build it with `ensure` (creates what is missing) or `load` (read-only, for `certs show`).
    """

    def __init__(
        self,
        certs_dir: Path,
        subject: SubjectNames,
        app_names: Iterable[str] = DEFAULT_APP_NAMES,
        device_ciphers: str = DEVICE_CIPHERS,
        clock: Clock = utc_now,
    ) -> None:
        self.certs_dir = certs_dir
        self.ca_key_path = certs_dir / "ca.key"
        self.ca_pem_path = certs_dir / "ca.pem"
        self.ca_der_path = certs_dir / "ca.der"
        self.mobileconfig_path = certs_dir / "ca.mobileconfig"
        self.subject = subject
        self.app_names = tuple(app_names)
        self._app_matcher = AppNameMatcher(self.app_names)
        self._device_ciphers = device_ciphers
        self._clock = clock
        self._contexts: dict[Profile, SniContexts] = {}
        self._ca_key: rsa.RSAPrivateKey | None = None
        self._ca_certificate: x509.Certificate | None = None
        self._leaves: dict[LeafRole, _Leaf] = {}

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def ensure(
        cls,
        certs_dir: Path,
        names: Sequence[str],
        announce_address: str,
        app_names: Iterable[str] = DEFAULT_APP_NAMES,
        device_ciphers: str = DEVICE_CIPHERS,
        clock: Clock = utc_now,
    ) -> CertificateAuthority:
        """Create whatever is missing in certs_dir, keep every existing key, load the rest.

        A leaf whose names, key or CA no longer match (the catalogue, extra hostnames or the
        announce address changed) is re-issued with its existing key; an app leaf within 30 days
        of expiry is renewed.
        """
        authority = cls(
            certs_dir,
            SubjectNames.build(names, announce_address),
            app_names,
            device_ciphers,
            clock,
        )
        storage.secure_directory(certs_dir)
        authority._ensure_ca()
        authority._write_exports()
        for role in LEAF_ROLES:
            authority._ensure_leaf(role)
        return authority

    @classmethod
    def load(
        cls,
        certs_dir: Path,
        app_names: Iterable[str] = DEFAULT_APP_NAMES,
        device_ciphers: str = DEVICE_CIPHERS,
    ) -> CertificateAuthority:
        """Load an existing CA and leaves without writing anything; CertsError if incomplete."""
        nothing_yet = SubjectNames(frozenset(), frozenset())
        authority = cls(certs_dir, nothing_yet, app_names, device_ciphers)
        if not certs_dir.is_dir():
            raise CertsError(
                f"no certificate authority in {certs_dir}; run 'fakecloud certs create' first"
            )
        authority._ca_key = authority._require_key(authority.ca_key_path)
        authority._ca_certificate = authority._load_certificate(authority.ca_pem_path)
        for role in LEAF_ROLES:
            files = authority._leaf_files(role)
            authority._leaves[role] = _Leaf(
                files,
                authority._require_key(files.key),
                authority._load_certificate(files.certificate),
            )
        authority.subject = SubjectNames.of(authority._leaves["device"].certificate)
        return authority

    # -- public API ---------------------------------------------------------------------------

    @property
    def ca_certificate(self) -> x509.Certificate:
        if self._ca_certificate is None:
            raise CertsError("the certificate authority is not loaded")
        return self._ca_certificate

    def leaf_certificate(self, role: LeafRole) -> x509.Certificate:
        return self._leaves[role].certificate

    def leaf_paths(self, role: LeafRole) -> LeafFiles:
        return self._leaf_files(role)

    def server_context(self, profile: Profile) -> ssl.SSLContext:
        """The TLS server context of a profile; the same object on every call.

        Either profile serves the app leaf to SNI naming an app host and the device leaf to
        anything else (or no SNI); the profile sets the protocol policy ("device": TLS 1.0+ with
        RSA key exchange for old cameras, "app": TLS 1.2+).
        """
        if profile not in ("device", "app"):
            raise ValueError(f"unknown TLS profile {profile!r}")
        if profile not in self._contexts:
            self._contexts[profile] = SniContexts(
                profile,
                self._leaves["device"].files,
                self._leaves["app"].files,
                self._app_matcher,
                self._device_ciphers,
            )
        return self._contexts[profile].entry

    def renew_app_leaf(self) -> None:
        """Issue a fresh app leaf (same key, new 825-day window); live contexts pick it up."""
        self._issue_leaf("app", self._leaves["app"].key)
        for contexts in self._contexts.values():
            contexts.reload_app_leaf(self._leaves["app"].files)

    def describe(self) -> list[dict[str, object]]:
        """Role, subject, SHA-256 fingerprint, validity and SANs of the CA and each leaf."""
        described = [describe_certificate("ca", self.ca_certificate)]
        described[0]["path"] = str(self.ca_pem_path)
        for role, leaf in self._leaves.items():
            entry = describe_certificate(role, leaf.certificate)
            entry["path"] = str(leaf.files.certificate)
            described.append(entry)
        return described

    def export(self, export_format: ExportFormat) -> bytes:
        """The CA certificate as PEM, DER or an iOS configuration profile."""
        if export_format == "pem":
            return storage.encode_certificate(self.ca_certificate)
        if export_format == "der":
            return self.ca_certificate.public_bytes(serialization.Encoding.DER)
        if export_format == "mobileconfig":
            return build_mobileconfig(self.ca_certificate)
        raise ValueError(f"unknown export format {export_format!r}")

    # -- internals ----------------------------------------------------------------------------

    def _leaf_files(self, role: LeafRole) -> LeafFiles:
        return LeafFiles(self.certs_dir / f"{role}.pem", self.certs_dir / f"{role}.key")

    def _read_key(self, path: Path) -> rsa.RSAPrivateKey | None:
        data = storage.read_file(path)
        return None if data is None else storage.decode_private_key(data, str(path))

    def _require_key(self, path: Path) -> rsa.RSAPrivateKey:
        key = self._read_key(path)
        if key is None:
            raise CertsError(f"{path} is missing; run 'fakecloud certs create'")
        return key

    def _load_certificate(self, path: Path) -> x509.Certificate:
        data = storage.read_file(path)
        if data is None:
            raise CertsError(f"{path} is missing; run 'fakecloud certs create'")
        return storage.decode_certificate(data, str(path))

    def _create_or_load_key(self, path: Path) -> rsa.RSAPrivateKey:
        existing = self._read_key(path)
        if existing is not None:
            storage.restrict_private(path)
            return existing
        key = new_key()
        if storage.write_new_private(path, storage.encode_private_key(key)):
            log.info("created private key %s", path)
            return key
        # another process created it between our read and our write: theirs wins
        return self._require_key(path)

    def _ensure_ca(self) -> None:
        key_exists = self.ca_key_path.exists()
        certificate_data = storage.read_file(self.ca_pem_path)
        if certificate_data is not None and not key_exists:
            raise CertsError(
                f"{self.ca_pem_path} exists but {self.ca_key_path} does not; restore the key "
                "or move the certs dir away to start a new CA (phones must then trust it anew)"
            )
        self._ca_key = self._create_or_load_key(self.ca_key_path)
        if certificate_data is not None:
            certificate = storage.decode_certificate(certificate_data, str(self.ca_pem_path))
            if certificate.public_key() != self._ca_key.public_key():
                raise CertsError(f"{self.ca_pem_path} does not belong to {self.ca_key_path}")
            self._ca_certificate = certificate
            return
        # The subject is derived from the key, so a CA certificate re-made from a kept key
        # still matches the leaves it signed and the copies phones already trust.
        self._ca_certificate = build_ca(self._ca_key)
        storage.write_public(self.ca_pem_path, storage.encode_certificate(self._ca_certificate))
        log.info("created CA certificate %s", self.ca_pem_path)

    def _write_exports(self) -> None:
        exports: tuple[tuple[Path, ExportFormat], ...] = (
            (self.ca_der_path, "der"),
            (self.mobileconfig_path, "mobileconfig"),
        )
        for path, export_format in exports:
            wanted = self.export(export_format)
            if storage.read_file(path) != wanted:
                storage.write_public(path, wanted)

    def _ensure_leaf(self, role: LeafRole) -> None:
        files = self._leaf_files(role)
        key = self._create_or_load_key(files.key)
        data = storage.read_file(files.certificate)
        if data is not None:
            try:
                certificate = storage.decode_certificate(data, str(files.certificate))
            except CertsError:
                log.warning("%s is unreadable; issuing a new one", files.certificate)
            else:
                renew_before = APP_RENEW_BEFORE if role == "app" else _NEVER_RENEW
                if leaf_is_current(
                    certificate, key, self.subject, self.ca_certificate, self._clock(), renew_before
                ):
                    self._leaves[role] = _Leaf(files, key, certificate)
                    return
                log.info("%s leaf is out of date (names, key, CA or expiry); re-issuing", role)
        self._issue_leaf(role, key)

    def _issue_leaf(self, role: LeafRole, key: rsa.RSAPrivateKey) -> None:
        if self._ca_key is None:
            raise CertsError("the certificate authority is not loaded")
        files = self._leaf_files(role)
        certificate = build_leaf(
            role, key.public_key(), self.subject, self.ca_certificate, self._ca_key, self._clock()
        )
        storage.write_public(files.certificate, storage.encode_certificate(certificate))
        self._leaves[role] = _Leaf(files, key, certificate)
        log.info("issued %s leaf %s", role, files.certificate)
