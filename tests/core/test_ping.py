"""ICMP echo: the codec, and one real ping of loopback."""

from __future__ import annotations

import os

import pytest

from fakecloud.core.ping import echo_request, is_echo_reply, ping


def test_a_reply_is_matched_by_payload() -> None:
    request = echo_request(7, 1, b"abc")
    reply = bytes([0]) + request[1:]
    assert is_echo_reply(reply, b"abc") and not is_echo_reply(reply, b"abd")
    assert not is_echo_reply(request, b"abc")
    ip_header = bytes([0x45]) + bytes(19)
    assert is_echo_reply(ip_header + reply, b"abc")


def test_loopback_answers_ping() -> None:
    try:
        assert ping("127.0.0.1", 2.0)
    except PermissionError:
        pytest.skip(f"uid {os.getuid()} may not send ICMP (net.ipv4.ping_group_range)")
