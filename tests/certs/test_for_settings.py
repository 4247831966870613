"""The CA for a fakecloud's settings: what `serve` and `fakecloud certs create` both use."""

from __future__ import annotations

from fakecloud.certs import ensure_authority
from fakecloud.core.config import Settings
from tests.certs.conftest import redirected_names


def _device_names(described: list[dict[str, object]]) -> list[str]:
    device = next(entry for entry in described if entry["role"] == "device")
    sans = device["sans"]
    assert isinstance(sans, list)
    return [str(name) for name in sans]


def test_leaves_name_the_catalogue_extras_and_announce_address(settings: Settings) -> None:
    settings = settings.model_copy(update={"extra_hostnames": ["cam.example.net"]})
    authority = ensure_authority(settings)
    assert authority.certs_dir == settings.certs_dir
    names = _device_names(authority.describe())
    for name in [*redirected_names(), "cam.example.net"]:
        assert f"DNS:{name}" in names
    assert f"IP:{settings.effective_announce_address}" in names


def test_a_second_call_keeps_the_authority(settings: Settings) -> None:
    first = ensure_authority(settings).describe()
    second = ensure_authority(settings).describe()
    assert [entry["sha256"] for entry in second] == [entry["sha256"] for entry in first]
