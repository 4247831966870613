"""The iOS profile: a valid plist holding the CA DER, identical on every export."""

from __future__ import annotations

import plistlib
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from fakecloud.certs import CertificateAuthority
from fakecloud.certs.mobileconfig import build_mobileconfig
from tests.certs.conftest import ANNOUNCE, redirected_names


def test_profile_installs_the_ca_as_a_root(shared_authority: CertificateAuthority) -> None:
    profile = plistlib.loads(shared_authority.mobileconfig_path.read_bytes())
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadVersion"] == 1
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert payload["PayloadContent"] == shared_authority.ca_certificate.public_bytes(
        serialization.Encoding.DER
    )
    for entry in (profile, payload):
        uuid.UUID(entry["PayloadUUID"])
    assert profile["PayloadUUID"] != payload["PayloadUUID"]
    assert payload["PayloadIdentifier"].startswith(profile["PayloadIdentifier"])


def test_export_is_stable_and_differs_per_ca(
    shared_authority: CertificateAuthority, tmp_path: Path
) -> None:
    again = build_mobileconfig(shared_authority.ca_certificate)
    assert again == shared_authority.export("mobileconfig")
    assert again == shared_authority.mobileconfig_path.read_bytes()
    other = CertificateAuthority.ensure(tmp_path / "certs", redirected_names(), ANNOUNCE)
    ours = plistlib.loads(again)
    theirs = plistlib.loads(other.export("mobileconfig"))
    assert ours["PayloadUUID"] != theirs["PayloadUUID"]
    assert ours["PayloadIdentifier"] != theirs["PayloadIdentifier"]
