"""Server TLS contexts: a protocol policy per profile, and the leaf chosen by SNI."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fakecloud.catalogue import normalise
from fakecloud.certs.errors import CertsError

Profile = Literal["device", "app"]

# The hosts the phone apps talk to; SNI naming one of them gets the short-lived app leaf.
DEFAULT_APP_NAMES: tuple[str, ...] = ("netcam.belkin.com", "netcam-webserver-eu.belkin.com")

# Forward-secret suites first (the server's order wins), then plain RSA key exchange, which is
# all a 2012 embedded TLS stack may offer. RC4, 3DES, NULL and export suites stay excluded.
DEVICE_CIPHERS = (
    "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES:"
    "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:"
    "@SECLEVEL=0"
)


@dataclass(frozen=True)
class LeafFiles:
    certificate: Path
    key: Path


class AppNameMatcher:
    """Tells app-facing names from the rest; entries may be exact names or '*.domain'."""

    def __init__(self, names: Iterable[str]) -> None:
        entries = {normalise(name) for name in names if normalise(name)}
        self._exact = frozenset(name for name in entries if not name.startswith("*."))
        self._suffixes = tuple(name[1:] for name in entries if name.startswith("*."))

    def __contains__(self, server_name: object) -> bool:
        if not isinstance(server_name, str):
            return False
        name = normalise(server_name)
        return name in self._exact or name.endswith(self._suffixes)


def _policy_context(profile: Profile, ciphers: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    if profile == "device":
        # Security consideration: a 2012 camera may speak only TLS 1.0 with RSA key exchange
        # (no forward secrecy, CBC suites). Accepting that on device-facing ports weakens only
        # connections whose client cannot do better; modern clients still negotiate TLS 1.2/1.3
        # with ECDHE because the server's preference order puts those first. @SECLEVEL=0 is
        # what lets OpenSSL 3 use TLS 1.0 at all. Phone-facing ports use the "app" profile.
        with warnings.catch_warnings():
            # Python deprecates TLS 1.0; here it is a deliberate, documented choice
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers(ciphers)
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SniContexts:
    """The two contexts of one profile: the entry context (device leaf) and the app leaf's.

    The entry context's SNI callback moves a handshake naming an app host onto the app leaf's
    context. Both share the profile's protocol policy, since OpenSSL fixes the protocol limits
    from the first context anyway.
    """

    def __init__(
        self,
        profile: Profile,
        device: LeafFiles,
        app: LeafFiles,
        app_names: AppNameMatcher,
        device_ciphers: str = DEVICE_CIPHERS,
    ) -> None:
        self.profile = profile
        self._app_names = app_names
        try:
            self.entry = _policy_context(profile, device_ciphers)
            self.app = _policy_context(profile, device_ciphers)
        except ssl.SSLError as error:
            raise CertsError(f"unusable device cipher list {device_ciphers!r}: {error}") from None
        self.entry.load_cert_chain(device.certificate, device.key)
        self.app.load_cert_chain(app.certificate, app.key)
        self.entry.sni_callback = self._choose_leaf

    def reload_app_leaf(self, app: LeafFiles) -> None:
        """Serve a renewed app leaf from the next handshake on, without a restart."""
        self.app.load_cert_chain(app.certificate, app.key)

    def _choose_leaf(
        self, connection: ssl.SSLObject, server_name: str | None, _context: ssl.SSLContext
    ) -> None:
        if server_name is not None and server_name in self._app_names:
            connection.context = self.app
