"""The Home Assistant add-on: its files checked against the add-on configuration rules Home
Assistant's Supervisor applies (required keys, slug, architectures, services, option schema),
its options mapped onto real settings, and the Supervisor's MQTT service read over HTTP."""

from __future__ import annotations

import json
import re
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.core.config import Settings, load_settings
from fakecloud.integrations.ha_addon import OPTION_SETTINGS, environment, mqtt_url, supervisor_mqtt
from fakecloud.integrations.mqtt.url import parse_mqtt_url

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addon"
# The Supervisor's rules, as its add-on documentation and validation state them.
REQUIRED_KEYS = ("name", "version", "slug", "description", "arch")
ARCHITECTURES = {"amd64", "aarch64", "armhf", "armv7", "i386"}
SLUG = re.compile(r"[-_.A-Za-z0-9]+")
SERVICE = re.compile(r"(mqtt|mysql):(provide|want|need)")
_RANGE = r"(\((-?\d+(\.\d+)?)?,(-?\d+(\.\d+)?)?\))?"
SCHEMA_ELEMENT = re.compile(
    rf"(bool|email|url|port|device(\(subsystem=[a-z]+\))?|str{_RANGE}|password{_RANGE}"
    rf"|int{_RANGE}|float{_RANGE}|match\(.*\)|list\(.+\))\??"
)


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ADDON / name).read_text())
    assert isinstance(document, dict)
    return document


def test_the_repository_names_itself() -> None:
    repository = yaml.safe_load((ROOT / "repository.yaml").read_text())
    assert isinstance(repository["name"], str) and repository["name"]


def test_the_configuration_follows_the_supervisors_rules() -> None:
    config = load("config.yaml")
    assert all(config.get(key) for key in REQUIRED_KEYS)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert config["version"] == project["version"]
    assert SLUG.fullmatch(config["slug"])
    assert set(config["arch"]) <= ARCHITECTURES
    assert all(SERVICE.fullmatch(service) for service in config["services"])
    assert all(SCHEMA_ELEMENT.fullmatch(kind) for kind in config["schema"].values())
    assert set(config["options"]) <= set(config["schema"])
    # Cameras must reach the host's own ports (DNS 53, the cloud ports): host networking.
    assert config["host_network"] is True
    http_port = Settings.model_fields["http_port"].default  # (the environment may set another)
    assert config["ingress"] is True and config["ingress_port"] == http_port


def test_every_option_sets_a_real_setting() -> None:
    schema = load("config.yaml")["schema"]
    assert set(schema) == set(OPTION_SETTINGS)
    assert set(OPTION_SETTINGS.values()) <= set(Settings.model_fields)


def test_the_build_covers_every_architecture() -> None:
    build = load("build.yaml")
    assert set(build["build_from"]) == set(load("config.yaml")["arch"])
    assert "FAKECLOUD_SOURCE" in build["args"]
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert "ARG BUILD_FROM" in dockerfile and "fakecloud.integrations.ha_addon" in dockerfile


def test_the_default_options_start_fakecloud_with_valid_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    options = load("config.yaml")["options"]
    service = {
        "host": "core-mosquitto",
        "port": 1883,
        "username": "addons",
        "password": "p@ss:w/rd",
    }
    variables = environment(options, service)
    assert variables["FAKECLOUD_DNS_ENABLED"] == "true"
    assert "FAKECLOUD_ANNOUNCE_ADDRESS" not in variables  # empty: fakecloud finds it
    for name, value in {**variables, "FAKECLOUD_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.trusted_networks == ["127.0.0.0/8", "::1/128"]
    # Ingress: X-Ingress-Path is believed from the Supervisor only.
    assert settings.ingress_proxy == ["172.30.32.2"]
    broker = settings.mqtt_broker
    assert broker is not None and (broker.host, broker.password) == ("core-mosquitto", "p@ss:w/rd")


def test_an_mqtt_url_of_the_owners_own_wins() -> None:
    options = {"mqtt_url": "mqtts://me:x@broker.lan:8883"}
    variables = environment(options, {"host": "core-mosquitto", "port": 1883})
    assert variables["FAKECLOUD_MQTT_URL"] == "mqtts://me:x@broker.lan:8883"


@given(user=st.text(min_size=1, max_size=40), password=st.text(max_size=40), tls=st.booleans())
def test_any_credentials_survive_the_url(user: str, password: str, tls: bool) -> None:
    url = mqtt_url(
        {"host": "fd00::5", "port": 1884, "username": user, "password": password, "ssl": tls}
    )
    broker = parse_mqtt_url(url)
    assert (broker.username, broker.password, broker.host, broker.tls) == (
        user,
        password,
        "fd00::5",
        tls,
    )


@contextmanager
def supervisor(status: int, answer: bytes) -> Iterator[str]:
    """A stand-in for the Supervisor's services API on 127.0.0.1 (real HTTP)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/mqtt"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert seen and all(header == "Bearer token-1" for header in seen)


def test_the_supervisors_mqtt_service_is_read() -> None:
    data = {"host": "core-mosquitto", "port": 1883, "ssl": False, "username": "u", "password": "p"}
    body = json.dumps({"result": "ok", "data": data}).encode()
    with supervisor(200, body) as url:
        assert supervisor_mqtt("token-1", url) == data


def test_no_mqtt_service_means_no_mqtt() -> None:
    with supervisor(400, b'{"result": "error", "message": "No mqtt service"}') as url:
        assert supervisor_mqtt("token-1", url) is None
    with supervisor(200, b"not json") as url:
        assert supervisor_mqtt("token-1", url) is None
