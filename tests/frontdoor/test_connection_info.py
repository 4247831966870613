"""What handlers learn about a connection (connection_info.py)."""

from __future__ import annotations

import dataclasses

import pytest

from fakecloud.frontdoor.connection_info import ConnectionInfo, format_address


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [
        ("192.168.1.50", 40112, "192.168.1.50:40112"),
        ("::1", 5104, "[::1]:5104"),
        ("fe80::1%eth0", 443, "[fe80::1%eth0]:443"),
        ("?", 0, "?:0"),
    ],
)
def test_format_address(host: str, port: int, text: str) -> None:
    assert format_address(host, port) == text


def test_connection_info_is_a_frozen_value() -> None:
    info = ConnectionInfo("ab12cd34", ("127.0.0.1", 40000), 5104, False, None)
    assert info.local_address == ""
    assert info == ConnectionInfo("ab12cd34", ("127.0.0.1", 40000), 5104, False, None, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.tls = True  # type: ignore[misc]
    assert dataclasses.replace(info, tls=True, sni="server.seedonk.com").sni == (
        "server.seedonk.com"
    )
