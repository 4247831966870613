from pathlib import Path

import pytest

from fakecloud.core.config import load_settings
from fakecloud.core.errors import UserError


def test_environment_overrides_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "fakecloud.toml"
    config.write_text('dns_port = 2053\nhttp_port = 9000\ndns_upstreams = ["127.0.0.1:5300"]\n')
    monkeypatch.setenv("FAKECLOUD_HTTP_PORT", "9100")
    monkeypatch.setenv("FAKECLOUD_CLOUD_PORTS", "15104, 16178")
    settings = load_settings(config)
    assert settings.dns_port == 2053
    assert settings.http_port == 9100
    assert settings.cloud_ports == [15104, 16178]
    assert settings.dns_upstreams == ["127.0.0.1:5300"]


def test_bad_value_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKECLOUD_DNS_PORT", "not-a-port")
    with pytest.raises(UserError, match="dns_port"):
        load_settings()


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


def test_out_of_range_cloud_port_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKECLOUD_CLOUD_PORTS", "80,70000")
    with pytest.raises(UserError, match="70000"):
        load_settings()


def test_announce_address_defaults_to_a_detected_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FAKECLOUD_ANNOUNCE_ADDRESS", raising=False)
    address = load_settings().effective_announce_address
    assert address.count(".") == 3
