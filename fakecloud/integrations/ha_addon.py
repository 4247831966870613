"""fakecloud as a Home Assistant add-on (addon/): the add-on's options and the Supervisor's MQTT
service become FAKECLOUD_* settings, then `fakecloud serve` takes over the process.

`python -m fakecloud.integrations.ha_addon` is the add-on image's command. Home Assistant writes
the options the owner chose to /data/options.json and, for an add-on that asks for `mqtt:want`,
answers `GET http://supervisor/services/mqtt` (with the add-on's SUPERVISOR_TOKEN) with the
Mosquitto add-on's host, port and credentials.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

OPTIONS_FILE = Path("/data/options.json")
SUPERVISOR_MQTT = "http://supervisor/services/mqtt"
# Home Assistant's ingress reaches add-ons from the Supervisor's fixed address on its network
# (the add-on ingress documentation): only there is X-Ingress-Path believed (docs/ha-addon.md).
SUPERVISOR_ADDRESS = "172.30.32.2"
# Every option in addon/config.yaml and the setting it sets (tests/integrations check both ways).
OPTION_SETTINGS = {
    "announce_address": "announce_address",
    "dns_enabled": "dns_enabled",
    "log_level": "log_level",
    "trusted_networks": "trusted_networks",
    "webhook_urls": "webhook_urls",
    "webhook_secret": "webhook_secret",
    "mqtt_url": "mqtt_url",
}
MAX_ANSWER_BYTES = 64 * 1024


def environment(options: dict[str, Any], mqtt_service: dict[str, Any] | None) -> dict[str, str]:
    """The FAKECLOUD_* variables for these options (unset ones keep fakecloud's defaults) and
    the Supervisor's MQTT service (unless the owner gave an MQTT URL of their own)."""
    variables = {"FAKECLOUD_DATA_DIR": "/data", "FAKECLOUD_INGRESS_PROXY": SUPERVISOR_ADDRESS}
    for option, value in options.items():
        setting = OPTION_SETTINGS.get(option)
        if setting is None or value is None or value == "":
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        variables[f"FAKECLOUD_{setting.upper()}"] = text
    if "FAKECLOUD_MQTT_URL" not in variables and mqtt_service:
        variables["FAKECLOUD_MQTT_URL"] = mqtt_url(mqtt_service)
    return variables


def mqtt_url(service: dict[str, Any]) -> str:
    """The MQTT URL of the Supervisor's MQTT service (user and password percent-encoded)."""
    scheme = "mqtts" if service.get("ssl") else "mqtt"
    user = service.get("username")
    password = service.get("password")
    credentials = ""
    if user:
        credentials = quote(str(user), safe="")
        if password is not None:
            credentials += ":" + quote(str(password), safe="")
        credentials += "@"
    host = str(service["host"])
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{credentials}{host}:{int(service['port'])}"


def supervisor_mqtt(token: str, url: str = SUPERVISOR_MQTT) -> dict[str, Any] | None:
    """The MQTT service's details, or None when there is none (no Mosquitto add-on) or the
    Supervisor cannot say."""
    try:
        answer = httpx.get(
            url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0, trust_env=False
        )
    except httpx.HTTPError as error:
        log.warning("the Supervisor did not answer for the MQTT service (%s)", type(error).__name__)
        return None
    if answer.status_code != 200 or len(answer.content) > MAX_ANSWER_BYTES:
        log.info("no MQTT service from the Supervisor (HTTP %d)", answer.status_code)
        return None
    try:
        data = answer.json().get("data")
    except (ValueError, AttributeError):
        return None
    if not isinstance(data, dict) or "host" not in data or "port" not in data:
        return None
    return data


def main() -> None:
    options = json.loads(OPTIONS_FILE.read_text()) if OPTIONS_FILE.exists() else {}
    token = os.environ.get("SUPERVISOR_TOKEN")
    service = supervisor_mqtt(token) if token else None
    os.environ.update(environment(options, service))
    os.execvp("fakecloud", ["fakecloud", "serve"])


if __name__ == "__main__":
    main()
