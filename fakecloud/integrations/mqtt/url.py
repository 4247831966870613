"""FAKECLOUD_MQTT_URL: `mqtt://user:pass@host:port` (plain) or `mqtts://...` (TLS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

PLAIN_PORT = 1883
TLS_PORT = 8883
SCHEMES = {"mqtt": False, "mqtts": True}
MAX_URL_LENGTH = 2048


class MqttUrlError(ValueError):
    """The URL cannot name an MQTT broker; the message says why (never the password)."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    # Security consideration: kept out of repr, so logging the address never shows it.
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """For logs: scheme, user and host, never the password."""
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    if len(url) > MAX_URL_LENGTH:
        raise MqttUrlError(f"an MQTT URL is at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise MqttUrlError(f"not an MQTT URL: {_without_password(error)}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise MqttUrlError("an MQTT URL starts with mqtt:// or mqtts://")
    if not parts.hostname:
        raise MqttUrlError("an MQTT URL names a host: mqtt://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MqttUrlError("an MQTT URL has no path, query or fragment: mqtt://user:pass@host:port")
    if port == 0:
        raise MqttUrlError("an MQTT broker's port is from 1 to 65535")
    tls = SCHEMES[scheme]
    return BrokerAddress(
        host=parts.hostname,
        port=port or (TLS_PORT if tls else PLAIN_PORT),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _without_password(error: ValueError) -> str:
    """urlsplit's complaints name the port text only; keep just the kind of problem."""
    return "the port is not a number from 0 to 65535" if "port" in str(error).lower() else "bad URL"
