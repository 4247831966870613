"""CXNet command strings (`name|arg|arg|`) and their `KEY=value+KEY=value` argument lists."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SEPARATOR = "|"
MAX_COMMAND_BYTES = 64 * 1024


class CommandError(ValueError):
    """Bytes that are not a command string, or arguments that cannot be written as one."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return format_command(self.name, *self.args)


def parse_command(data: bytes | str) -> Command:
    """Parse `name|arg|…|` (the trailing bar is optional); text is UTF-8 as the apps send it."""
    if isinstance(data, bytes | bytearray):
        if len(data) > MAX_COMMAND_BYTES:
            raise CommandError(f"command of {len(data)} bytes is too long")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise CommandError(f"command is not UTF-8: {error.reason}") from None
    else:
        text = data
    if text.endswith(SEPARATOR):
        text = text[:-1]
    name, *args = text.split(SEPARATOR)
    if not name.strip():
        raise CommandError("command has no name")
    return Command(name, tuple(args))


def format_command(name: str, *args: str) -> str:
    for part in (name, *args):
        if SEPARATOR in part:
            raise CommandError(f"{part!r} contains the separator '|'")
    if not name:
        raise CommandError("command has no name")
    return SEPARATOR.join((name, *args)) + SEPARATOR


def parse_plus_fields(text: str) -> dict[str, str]:
    """`QTY=3+FPS=20` -> {'QTY': '3', 'FPS': '20'}; items without '=' are ignored."""
    fields = {}
    for item in text.split("+"):
        key, sep, value = item.partition("=")
        if sep:
            fields[key] = value
    return fields


def format_plus_fields(fields: Mapping[str, object]) -> str:
    return "+".join(f"{key}={value}" for key, value in fields.items())
