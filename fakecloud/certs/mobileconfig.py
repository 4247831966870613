"""The iOS configuration profile that installs the CA (a com.apple.security.root payload)."""

from __future__ import annotations

import plistlib
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

# Every identifier is derived from the CA certificate, so exporting twice gives identical bytes
# and re-installing replaces the earlier profile instead of adding a second one.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:fakecloud:ca-profile")


def build_mobileconfig(ca_certificate: x509.Certificate) -> bytes:
    der = ca_certificate.public_bytes(serialization.Encoding.DER)
    digest = ca_certificate.fingerprint(hashes.SHA256()).hex()
    identifier = f"org.fakecloud.ca.{digest[:16]}"
    display_name = _common_name(ca_certificate)
    certificate_payload = {
        "PayloadCertificateFileName": "fakecloud-ca.cer",
        "PayloadContent": der,
        "PayloadDescription": "Adds the fakecloud local certificate authority",
        "PayloadDisplayName": display_name,
        "PayloadIdentifier": f"{identifier}.root",
        "PayloadType": "com.apple.security.root",
        "PayloadUUID": str(uuid.uuid5(_NAMESPACE, f"{digest}/root")).upper(),
        "PayloadVersion": 1,
    }
    profile = {
        "PayloadContent": [certificate_payload],
        "PayloadDescription": (
            "Lets this device trust the fakecloud server that replaces the Seedonk cloud. "
            "After installing, enable full trust in Settings > General > About > "
            "Certificate Trust Settings."
        ),
        "PayloadDisplayName": display_name,
        "PayloadIdentifier": identifier,
        "PayloadOrganization": "fakecloud",
        "PayloadRemovalDisallowed": False,
        "PayloadType": "Configuration",
        "PayloadUUID": str(uuid.uuid5(_NAMESPACE, f"{digest}/profile")).upper(),
        "PayloadVersion": 1,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else "fakecloud local CA"
