from pathlib import Path

import pytest

from fakecloud.core.config import Settings, load_settings
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


def test_a_copy_with_another_announce_address_announces_it() -> None:
    settings = Settings(announce_address="127.0.0.1")
    assert settings.effective_announce_address == "127.0.0.1"
    copy = settings.model_copy(update={"announce_address": "127.0.0.2"})
    assert copy.effective_announce_address == "127.0.0.2"
    assert copy.effective_broker_address == "127.0.0.2"


def test_broker_redirect_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKECLOUD_BROKER_HOSTNAME", "Cloud.Home.Lan.")
    monkeypatch.setenv("FAKECLOUD_BROKER_ADDRESS", "192.168.1.20")
    monkeypatch.setenv("FAKECLOUD_ANNOUNCE_ADDRESS", "192.168.1.10")
    monkeypatch.setenv("FAKECLOUD_CLOUD_PORTS", "5104")
    settings = load_settings()
    assert settings.broker_hostname == "cloud.home.lan"
    # Outside the catalogue, so it joins the names DNS answers and certificates carry.
    assert "cloud.home.lan" in settings.extra_hostnames
    assert settings.broker_has_own_address and settings.effective_broker_address == "192.168.1.20"
    assert settings.listening_ports == [5104, 5105]
    for name in ("HOSTNAME", "ADDRESS"):
        monkeypatch.delenv(f"FAKECLOUD_BROKER_{name}")
    default = Settings(cloud_ports=[], broker_address="", announce_address="10.0.0.1")
    assert default.extra_hostnames == [] and default.effective_broker_address == "10.0.0.1"
    assert not default.broker_has_own_address and default.listening_ports == []


@pytest.mark.parametrize(
    ("bind", "broker", "extra"),
    [
        ("127.0.0.1", "127.0.0.2", ["127.0.0.2"]),  # a specific bind must add the broker's own
        ("0.0.0.0", "127.0.0.2", []),  # a wildcard covers it
        ("127.0.0.1", "127.0.0.1", []),  # one address: nothing to add
        ("127.0.0.1", None, []),
    ],
)
def test_the_front_door_also_binds_a_separate_broker_address(
    bind: str, broker: str | None, extra: list[str]
) -> None:
    settings = Settings(bind_address=bind, broker_address=broker, announce_address="127.0.0.1")
    assert settings.extra_listening_hosts == extra


@pytest.mark.parametrize("name", ["1.2.3.4", "", "bad_name.example", "-a.example", "a..b"])
def test_broker_hostname_must_be_a_dns_name(name: str) -> None:
    with pytest.raises(ValueError, match="broker_hostname"):
        Settings(broker_hostname=name)


def test_tend_names_join_the_redirected_names_only_when_asked() -> None:
    assert "server.tend-us.tendplatform.com" not in Settings().extra_hostnames
    opted_in = Settings(tend_names=True, extra_hostnames=["cam.example.org"])
    assert opted_in.extra_hostnames[0] == "cam.example.org"
    assert {"server.tend-us.tendplatform.com", "web.tend-us.tendplatform.com"} <= set(
        opted_in.extra_hostnames
    )


def test_connection_budgets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKECLOUD_MAX_CONNECTIONS_PER_ADDRESS", "32")
    monkeypatch.setenv("FAKECLOUD_SESSION_FRAME_RATE", "5")
    settings = load_settings()
    assert settings.max_connections_per_address == 32
    assert settings.session_frame_rate == 5.0
    assert settings.max_login_frame_bytes == 16 * 1024 < settings.max_request_bytes


@pytest.mark.parametrize(
    ("variable", "value"),
    [("FAKECLOUD_MAX_LOGIN_FRAME_BYTES", "100"), ("FAKECLOUD_HTTP_MAX_CONNECTIONS", "0")],
)
def test_budgets_too_small_to_work_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(UserError, match=variable.removeprefix("FAKECLOUD_").lower()):
        load_settings()
