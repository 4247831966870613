"""The one settings model: defaults < config file (TOML) < FAKECLOUD_* environment < CLI flags."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fakecloud.catalogue import load_catalogue, normalise
from fakecloud.core.errors import UserError
from fakecloud.core.netinfo import detect_lan_address, same_address
from fakecloud.integrations.mqtt.url import BrokerAddress, parse_mqtt_url

CONFIG_ENV = "FAKECLOUD_CONFIG"
# Bind addresses that already take connections to every address of the host.
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})

DEFAULT_ALLOWED_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fe80::/10",
    "fc00::/7",
)


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
PortList = Annotated[list[int], NoDecode]
# One MQTT topic level HA accepts as a node id (no wildcards, no separator).
MQTT_TOPIC_WORD = r"^[A-Za-z0-9_-]{1,64}$"


@cache
def _detected_lan_address() -> str:
    """This host's LAN address, looked up once per process (it asks the routing table and DNS)."""
    return detect_lan_address()


class Settings(BaseSettings):
    """Every knob of fakecloud. Each field can be set as FAKECLOUD_<NAME> or in the TOML file."""

    model_config = SettingsConfigDict(env_prefix="FAKECLOUD_", extra="forbid")

    data_dir: Path = Field(Path("fakecloud-data"), description="state, certificates, captures")
    announce_address: str | None = Field(
        None,
        description="what DNS answers and clients are told; default: the LAN address",
    )
    bind_address: str = Field("0.0.0.0", description="address every listener binds")
    dns_enabled: bool = True
    dns_port: int = Field(1053, ge=0, le=65535)
    dns_upstreams: CommaList = Field(
        default_factory=list, description="host[:port] list; default: /etc/resolv.conf"
    )
    dns_allowed_networks: CommaList = Field(default_factory=lambda: list(DEFAULT_ALLOWED_NETWORKS))
    dns_ttl: int = Field(60, ge=0, le=86400)
    dns_upstream_timeout: float = Field(2.0, gt=0, le=30)
    extra_hostnames: CommaList = Field(
        default_factory=list, description="more names to redirect ('*.example.com' for a wildcard)"
    )
    # Security consideration: Tend still serves myQ devices; answering its names by default
    # would cut a household's myQ cameras off from their real cloud.
    tend_names: bool = Field(
        False, description="also answer Tend's hostnames, for public Tend/myQ clients"
    )
    trusted_networks: CommaList = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="HTTP clients here may view cameras without logging in",
    )
    allowed_hosts: CommaList = Field(
        default_factory=list,
        description="more names HTTP requests may carry in Host (a reverse proxy's name)",
    )
    # Security consideration: X-Ingress-Path steers redirects and cookie paths, so it is read
    # only from these addresses (Home Assistant's Supervisor, 172.30.32.2); default: nowhere.
    ingress_proxy: CommaList = Field(
        default_factory=list,
        description="addresses or networks of a Home Assistant ingress proxy (X-Ingress-Path)",
    )
    http_port: int = Field(8000, ge=0, le=65535, description="dashboard and REST (plain HTTP)")
    cloud_ports: PortList = Field(default_factory=lambda: [80, 443, 5104, 6178, 8080])
    relay_port: int = Field(6178, ge=0, le=65535, description="UDP media relay")
    rtsp_enabled: bool = Field(True, description="serve cameras over RTSP on rtsp_port")
    rtsp_port: int = Field(8554, ge=0, le=65535, description="RTSP for NVRs and players")
    rtsp_digest: bool = Field(
        False, description="offer RTSP Digest (with the ONVIF password) instead of Basic"
    )
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    login_policy: Literal["learning", "strict"] = "learning"
    redirect_app_logins: bool = True
    redirect_camera_logins: bool = False
    session_aliases: bool = Field(
        True,
        description="give each app login its own unguessable alias, the only viewer id the "
        "relay accepts for its sessions; false: the account alias, as before",
    )
    broker_hostname: str = Field(
        "broker.seedonk.com",
        description="the name a login redirect sends clients to (DNS answers it, TLS carries it)",
    )
    broker_port: int = Field(
        5105, ge=0, le=65535, description="second-hop CXNet port named in redirects; 0: none"
    )
    broker_address: str | None = Field(
        None, description="what DNS answers for broker_hostname; default: the announce address"
    )
    keepalive_timeout: float = Field(90.0, gt=0)
    viewer_linger: float = Field(30.0, ge=0)
    video_timeout: float = Field(
        10.0, gt=0, le=120, description="seconds to wait for a camera's first frame"
    )
    mjpeg_max_fps: float = Field(5.0, gt=0, le=30, description="MJPEG rate for H.264 cameras")
    # 0 = no limit: a 24/7 recorder must not see a gap every hour (issue 10).
    max_stream_seconds: float = Field(
        0.0, ge=0, description="longest single MJPEG or FLV response; 0: unlimited"
    )
    # WebRTC viewers (docs/webrtc.md): each costs sockets, DTLS and SRTP state.
    webrtc_max_peers: int = Field(32, ge=1, le=1024, description="WebRTC viewers in all")
    webrtc_max_peers_per_camera: int = Field(
        8, ge=1, le=32, description="WebRTC viewers of one camera"
    )
    webrtc_connect_seconds: float = Field(
        15.0, gt=0, le=120, description="seconds a WebRTC viewer may take to connect"
    )
    max_request_bytes: int = Field(1 << 20, ge=1024, description="largest request or frame")
    idle_timeout: float = Field(300.0, gt=0, description="seconds a silent connection stays open")
    capture_max_bytes: int = Field(16 << 20, ge=4096, description="size at which a capture rotates")
    # Login limits (issue 8; policy in fakecloud/core/login_guard.py).
    login_hash_workers: int = Field(2, ge=1, le=64, description="threads checking passwords")
    login_hash_queue: int = Field(
        64, ge=1, le=100_000, description="password checks waiting; more are refused as busy"
    )
    login_checks_per_address: int = Field(
        2, ge=1, le=1000, description="password checks at once from one client address"
    )
    login_checks_per_account: int = Field(
        4, ge=1, le=1000, description="password checks at once for one account"
    )
    login_backoff_max_seconds: float = Field(
        4.0, gt=0, le=60, description="longest wait a failing address or account gets"
    )
    # Connection budgets (issue 8; docs/frontdoor.md, docs/broker.md "Budgets").
    max_connections: int = Field(
        8192, ge=1, description="open TCP connections in all; kept below the descriptor limit"
    )
    max_connections_per_address: int = Field(
        256, ge=1, description="open TCP connections from one client address (IPv6: one /64)"
    )
    http_max_connections: int = Field(512, ge=1, description="open connections on http_port")
    max_login_frame_bytes: int = Field(
        16 << 10, ge=1024, le=1 << 20, description="largest frame before a CXNet login"
    )
    session_frame_rate: float = Field(
        50.0, gt=0, description="CXNet frames per second a session may send on average"
    )
    session_frame_burst: int = Field(
        500, ge=1, description="CXNet frames a session may send at once above the rate"
    )
    session_flood_frames: int = Field(
        5000, ge=1, description="frames dropped over the rate after which a session is closed"
    )
    # ONVIF Profile S devices (issue 10; docs/onvif.md).
    onvif_enabled: bool = Field(False, description="an ONVIF device per owned camera")
    onvif_port_base: int = Field(
        8900,
        ge=0,
        le=65535,
        description="first camera's ONVIF port; each keeps the next free one; 0: any",
    )
    onvif_discovery_port: int = Field(
        3702, ge=0, le=65535, description="WS-Discovery (UDP, multicast); 0: off"
    )
    # DNS and capture hardening (issue 8).
    dns_tcp_connection_seconds: float = Field(
        30.0, gt=0, le=600, description="longest a DNS-over-TCP connection may stay open"
    )
    capture_min_free_bytes: int = Field(
        64 << 20, ge=0, description="capture recording pauses while the disk has less free"
    )
    # Webhooks (issue 12; docs/webhooks.md).
    webhook_urls: CommaList = Field(
        default_factory=list, description="http(s) URLs that camera events are POSTed to"
    )
    webhook_secret: SecretStr | None = Field(
        None, description="key of the HMAC-SHA256 signature header of every webhook"
    )
    # Home Assistant over MQTT, Prometheus (issue 12; docs/mqtt.md, docs/metrics.md).
    mqtt_url: SecretStr | None = Field(
        None, description="mqtt://user:pass@host:port or mqtts://...; unset: no MQTT"
    )
    mqtt_topic_prefix: str = Field("fakecloud", pattern=MQTT_TOPIC_WORD)
    mqtt_discovery_prefix: str = Field("homeassistant", pattern=MQTT_TOPIC_WORD)
    mqtt_ca_file: Path | None = Field(None, description="CA bundle for mqtts://; default: system")

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_mqtt_url(value.get_secret_value())  # its error never repeats the password
            return value
        return None

    @property
    def mqtt_broker(self) -> BrokerAddress | None:
        """Where MQTT goes, or None when it is off."""
        return parse_mqtt_url(self.mqtt_url.get_secret_value()) if self.mqtt_url else None

    # Recordings and motion detection (issue 12; docs/recordings.md, docs/motion.md). A camera's
    # settings ("record", "motion_detection", "motion_zones") override these per camera.
    record_mode: Literal["off", "motion", "continuous"] = Field(
        "off", description="what every camera records unless its settings say otherwise"
    )
    record_dir: Path | None = Field(
        None, description="where clips go; default: data_dir/recordings"
    )
    record_pre_seconds: float = Field(5.0, ge=0, le=60, description="video kept before motion")
    record_post_seconds: float = Field(10.0, ge=0, le=600, description="video kept after motion")
    record_segment_seconds: float = Field(
        600.0, ge=10, le=86400, description="length of each continuous-recording file"
    )
    record_max_clip_seconds: float = Field(
        1800.0, ge=10, le=86400, description="a motion clip is cut into files this long"
    )
    record_max_age_days: float = Field(30.0, ge=0, description="clips older are deleted; 0: kept")
    record_max_bytes: int = Field(
        10 << 30, ge=0, description="oldest clips are deleted above this total; 0: no budget"
    )
    record_min_free_bytes: int = Field(
        512 << 20, ge=0, description="recording stops before the disk has less free than this"
    )
    motion_detection: bool = Field(False, description="server-side motion detection per camera")
    motion_sensitivity: float = Field(
        0.5, ge=0, le=1, description="0: only large changes count as motion; 1: small ones too"
    )
    motion_start_frames: int = Field(
        2, ge=1, le=100, description="changed pictures in a row that start a motion event"
    )
    motion_quiet_seconds: float = Field(
        10.0, gt=0, le=3600, description="seconds without change that end a motion event"
    )
    wemo_sensors: CommaList = Field(
        default_factory=list,
        description="Wemo NetCams' UPnP motion sensors, '<camera id>=http://<ip>:<port>' each",
    )
    motion_fps: float = Field(2.0, gt=0, le=15, description="pictures per second compared, at most")

    @field_validator("announce_address", "broker_address", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # compose passes an unset variable through as an empty string
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "dns_upstreams",
        "dns_allowed_networks",
        "extra_hostnames",
        "trusted_networks",
        "allowed_hosts",
        "ingress_proxy",
        "webhook_urls",
        "wemo_sensors",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("webhook_urls")
    @classmethod
    def _webhook_urls_parse(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                # The URL itself is not repeated: it may carry the receiver's credentials.
                raise ValueError("a webhook URL must be http:// or https:// with a host")
        return value

    @field_validator("broker_address")
    @classmethod
    def _is_an_address(cls, value: str | None) -> str | None:
        return None if value is None else str(ipaddress.ip_address(value))

    @field_validator("broker_hostname")
    @classmethod
    def _is_a_hostname(cls, value: str) -> str:
        name = normalise(value)
        labels = name.split(".")
        if not all(_HOST_LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"{value!r} is not a DNS name such as broker.seedonk.com")
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return name
        # Security consideration (and interop): some clients resolve a redirect target through
        # DNS only, so the name must be a name.
        raise ValueError("broker_hostname must be a name, not an address")

    @model_validator(mode="after")
    def _names_to_redirect(self) -> Settings:
        # The DNS shim answers, and the certificates carry, the catalogue's redirected names
        # plus extra_hostnames: opted-in names and the redirect target join the latter.
        if self.tend_names:
            opted_in = load_catalogue().opt_in_names("tend")
            self.extra_hostnames = list(dict.fromkeys([*self.extra_hostnames, *opted_in]))
        if not load_catalogue(self.extra_hostnames).should_redirect(self.broker_hostname):
            self.extra_hostnames = [*self.extra_hostnames, self.broker_hostname]
        return self

    @field_validator("cloud_ports", mode="before")
    @classmethod
    def _port_list(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("cloud_ports")
    @classmethod
    def _ports_in_range(cls, value: list[int]) -> list[int]:
        for port in value:
            if not 0 <= port <= 65535:
                raise ValueError(f"port {port} is out of range")
        return value

    @field_validator("dns_allowed_networks", "trusted_networks", "ingress_proxy")
    @classmethod
    def _networks_parse(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def effective_announce_address(self) -> str:
        # A property, not a cached one: a cached value would survive `model_copy(update=...)`.
        return self.announce_address or _detected_lan_address()

    @property
    def effective_broker_address(self) -> str:
        return self.broker_address or self.effective_announce_address

    @property
    def broker_has_own_address(self) -> bool:
        """True when redirected clients come back to an address of their own (stateless)."""
        return same_address(self.effective_broker_address, self.effective_announce_address) is False

    @property
    def extra_listening_hosts(self) -> list[str]:
        """The broker's own address, when the front door must bind it besides a specific bind
        address (a wildcard bind address covers it already)."""
        if not self.broker_has_own_address or self.bind_address in WILDCARD_ADDRESSES:
            return []
        return [self.effective_broker_address]

    @property
    def listening_ports(self) -> list[int]:
        """The front door's ports: the cloud ports and, when there are any (a redirect comes
        from one), the second-hop broker port."""
        extra = [self.broker_port] if self.broker_port and self.cloud_ports else []
        return list(dict.fromkeys([*self.cloud_ports, *extra]))

    @property
    def certs_dir(self) -> Path:
        return self.data_dir / "certs"

    @property
    def captures_dir(self) -> Path:
        return self.data_dir / "captures"

    @property
    def recordings_dir(self) -> Path:
        return self.record_dir or self.data_dir / "recordings"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "fakecloud.sqlite3"

    def allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return _parse_networks(self.dns_allowed_networks)

    def trusted_http_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return _parse_networks(self.trusted_networks)

    def ingress_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return _parse_networks(self.ingress_proxy)


def _parse_networks(networks: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(net, strict=False) for net in networks]


def address_in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """True when an address (IPv4, IPv6 or IPv4-mapped IPv6) lies in one of the networks."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in networks)


# FAKECLOUD_* names read outside the settings model (run.sh's virtual environment).
OTHER_VARIABLES = frozenset({CONFIG_ENV, "FAKECLOUD_VENV"})


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """One warning for each FAKECLOUD_* variable no setting reads, with the likely intended name:
    a typo would otherwise be silently ignored."""
    prefix = Settings.model_config["env_prefix"]
    known = {prefix + name.upper() for name in Settings.model_fields} | OTHER_VARIABLES
    found = os.environ if environ is None else environ
    warnings = []
    for variable in sorted(name for name in found if name.upper().startswith(prefix)):
        if variable.upper() in known:
            continue
        # Compared without the shared prefix, which would make every name look alike.
        suffixes = sorted(name.removeprefix(prefix) for name in known)
        close = difflib.get_close_matches(variable.upper().removeprefix(prefix), suffixes, n=1)
        hint = f"did you mean {prefix}{close[0]}?" if close else "no setting has that name"
        warnings.append(f"{variable} is not a fakecloud setting and is ignored: {hint}")
    return warnings


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; a bad value or missing file becomes one UserError line."""
    if config_file is not None:
        if not config_file.is_file():
            raise UserError(f"config file {config_file} does not exist")
        os.environ[CONFIG_ENV] = str(config_file)
    elif (path := os.environ.get(CONFIG_ENV)) and not Path(path).is_file():
        raise UserError(f"config file {path} (from {CONFIG_ENV}) does not exist")
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'settings'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise UserError(f"invalid settings: {problems}") from None
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read settings: {error}") from None
