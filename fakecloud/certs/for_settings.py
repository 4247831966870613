"""The CA a fakecloud's settings call for, used by `serve` and by `fakecloud certs` alike."""

from __future__ import annotations

from fakecloud.catalogue import load_catalogue
from fakecloud.certs.authority import CertificateAuthority
from fakecloud.core.config import Settings


def ensure_authority(settings: Settings) -> CertificateAuthority:
    """The CA for these settings, created or brought up to date: its leaves name every
    redirected hostname (the catalogue plus `extra_hostnames`) and the announce address."""
    names = [entry.name for entry in load_catalogue(settings.extra_hostnames).redirected]
    return CertificateAuthority.ensure(
        settings.certs_dir, names, settings.effective_announce_address
    )
