from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.net.camsetup import (
    camera_lookup_key,
    camera_name_reply,
    firmware_read_name,
    firmware_safe_name,
    key_is_valid,
)
from tests.conftest import protocol_vector

CASES = protocol_vector("retrievecamera_key.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["login"])
def test_key_matches_the_firmware_example(case: dict) -> None:
    key = camera_lookup_key(case["login"], case["mac"])
    assert key == case["key"]
    assert key.startswith(case["published_prefix"])
    assert key_is_valid(case["login"], case["mac"], case["key"].upper())


def test_only_the_first_16_login_characters_count() -> None:
    mac = "D4:12:BB:01:10:8C"
    assert camera_lookup_key("a" * 16 + "xyz", mac) == camera_lookup_key("a" * 16, mac)
    assert camera_lookup_key("a" * 15 + "b", mac) != camera_lookup_key("a" * 16, mac)


def test_wrong_key_is_rejected() -> None:
    assert not key_is_valid("mingtest", "D4:12:BB:01:10:8C", "0" * 32)


def test_reply_shape_is_what_the_firmware_parses() -> None:
    assert camera_name_reply("Porch") == b'{"name":"Porch"}\n'
    assert firmware_read_name(camera_name_reply("Porch")) == "Porch"


def test_empty_name_lets_the_camera_use_its_default() -> None:
    assert camera_name_reply("  ") == b""
    assert firmware_read_name(b"") == ""


@given(st.text(max_size=100))
def test_any_name_survives_the_firmware_parser(name: str) -> None:
    reply = camera_name_reply(name)
    expected = firmware_safe_name(name)
    assert firmware_read_name(reply) == expected
    assert ":" not in expected and '"' not in expected
