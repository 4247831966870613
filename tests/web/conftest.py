"""The whole fakecloud in-process on loopback (the viewer tests' `cloud`), with loopback NOT
trusted: every REST call must authenticate the way public clients do."""

from __future__ import annotations

import json
import ssl
from typing import Any

import pytest

from fakecloud.capture import CURRENT_FILE
from fakecloud.core.config import Settings
from tests.media.test_viewer_e2e import Cloud, cloud

__all__ = ["Cloud", "captured", "cloud", "tls_context"]

# A documentation network (RFC 5737): nothing on loopback is trusted, so tests authenticate.
UNTRUSTED_LOOPBACK = ["192.0.2.0/24"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"trusted_networks": UNTRUSTED_LOOPBACK})


def tls_context(cloud: Cloud) -> ssl.SSLContext:
    """A client context that verifies fakecloud's certificates against its own CA."""
    authority = cloud.runtime.services.authority
    return ssl.create_default_context(cafile=str(authority.ca_pem_path))


def captured(cloud: Cloud, kind: str = "http") -> list[dict[str, Any]]:
    """The records of one kind in the capture log, as written to disk."""
    path = cloud.runtime.settings.captures_dir / CURRENT_FILE
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [record for record in records if record["kind"] == kind]
