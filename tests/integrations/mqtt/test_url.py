"""FAKECLOUD_MQTT_URL: what it takes, what it refuses, and never the password in an error."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.integrations.mqtt.url import MqttUrlError, parse_mqtt_url


def test_a_full_url() -> None:
    address = parse_mqtt_url("mqtt://home:p%40ss%3Aword@broker.lan:1884")
    assert (address.host, address.port, address.tls) == ("broker.lan", 1884, False)
    assert (address.username, address.password) == ("home", "p@ss:word")
    assert "p@ss" not in repr(address) and "p@ss" not in address.describe()
    assert address.describe() == "mqtt://home@broker.lan:1884"


@pytest.mark.parametrize(
    ("url", "port", "tls"),
    [
        ("mqtt://10.0.0.2", 1883, False),
        ("mqtts://10.0.0.2", 8883, True),
        ("MQTTS://[::1]:9", 9, True),
    ],
)
def test_default_ports_and_tls(url: str, port: int, tls: bool) -> None:
    address = parse_mqtt_url(url)
    assert (address.port, address.tls, address.username, address.password) == (
        port,
        tls,
        None,
        None,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2@host",
        "mqtt://user:hunter2@",
        "mqtt://user:hunter2@host:99999",
        "mqtt://user:hunter2@host:0",
        "mqtt://user:hunter2@host:port",
        "mqtt://user:hunter2@host/path",
        "mqtt://user:hunter2@host?x=1",
        "mqtt://user:hunter2@host:1883#frag",
        "mqtt://[::1",
        "host:1883",
        "",
    ],
)
def test_refusals_never_repeat_the_password(url: str) -> None:
    with pytest.raises(MqttUrlError) as refused:
        parse_mqtt_url(url)
    assert "hunter2" not in str(refused.value)


@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        address = parse_mqtt_url(text)
    except MqttUrlError:
        return
    assert address.host and 1 <= address.port <= 65535


@given(
    st.sampled_from(["mqtt", "mqtts"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z0-9]{1,10}){0,2}", fullmatch=True),
    st.integers(1, 65535),
)
def test_quoted_credentials_come_back_whole(
    scheme: str, user: str, password: str, host: str, port: int
) -> None:
    url = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}"
    address = parse_mqtt_url(url)
    assert (address.username, address.password, address.host, address.port) == (
        user,
        password,
        host,
        port,
    )
