"""A CA built once per module (key generation is the slow part) and the names it must serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakecloud.catalogue import load_catalogue
from fakecloud.certs import CertificateAuthority

ANNOUNCE = "127.0.0.1"


def redirected_names() -> list[str]:
    return [entry.name for entry in load_catalogue().redirected]


def concrete(name: str) -> str:
    """A name a client would really ask for: a wildcard entry becomes one of its subdomains."""
    return "anything." + name[2:] if name.startswith("*.") else name


@pytest.fixture(scope="module")
def shared_authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """Read-only use only: tests that change files build their own with `fresh_authority`."""
    certs_dir = tmp_path_factory.mktemp("shared") / "certs"
    return CertificateAuthority.ensure(certs_dir, redirected_names(), ANNOUNCE)


@pytest.fixture
def certs_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "certs"
