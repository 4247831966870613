"""Command strings `name|arg|`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.net.commands import (
    Command,
    CommandError,
    format_command,
    format_plus_fields,
    parse_command,
    parse_plus_fields,
)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        (b"require-video-send|42|8|", Command("require-video-send", ("42", "8"))),
        (b"modify-device|7|QTY=3+FPS=20|", Command("modify-device", ("7", "QTY=3+FPS=20"))),
        (b"ping", Command("ping")),
        ("accept-video-receive||", Command("accept-video-receive", ("",))),
    ],
)
def test_parse(text: bytes | str, command: Command) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize("bad", [b"", b"|a|", b"\xff\xfe", b"  |"])
def test_parse_rejects(bad: bytes) -> None:
    with pytest.raises(CommandError):
        parse_command(bad)


def test_format() -> None:
    assert format_command("stop-video-receive", "42") == "stop-video-receive|42|"
    assert str(Command("a", ("b",))) == "a|b|"
    with pytest.raises(CommandError):
        format_command("a", "b|c")
    with pytest.raises(CommandError):
        format_command("")


def test_plus_fields() -> None:
    assert parse_plus_fields("QTY=3+FPS=20+junk") == {"QTY": "3", "FPS": "20"}
    assert format_plus_fields({"QTY": 3, "FPS": 20}) == "QTY=3+FPS=20"


name = st.text(min_size=1, max_size=20).filter(lambda s: "|" not in s and s.strip())
arg = st.text(max_size=20).filter(lambda s: "|" not in s)


@given(name, st.lists(arg, max_size=5))
def test_round_trip(command_name: str, args: list[str]) -> None:
    parsed = parse_command(format_command(command_name, *args).encode())
    assert parsed == Command(command_name, tuple(args))


@given(st.binary(max_size=200))
def test_parse_raises_only_its_own_error(data: bytes) -> None:
    try:
        parse_command(data)
    except CommandError:
        pass
