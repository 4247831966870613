"""The local certificate authority: CA, device and app leaves, TLS contexts chosen by SNI."""

from fakecloud.certs.authority import CertificateAuthority, ExportFormat
from fakecloud.certs.errors import CertsError
from fakecloud.certs.for_settings import ensure_authority
from fakecloud.certs.tls import DEFAULT_APP_NAMES, DEVICE_CIPHERS, Profile

__all__ = [
    "DEFAULT_APP_NAMES",
    "DEVICE_CIPHERS",
    "CertificateAuthority",
    "CertsError",
    "ExportFormat",
    "Profile",
    "ensure_authority",
]
