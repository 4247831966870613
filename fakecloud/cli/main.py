"""The `fakecloud` command: one entry point, one module per command group."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from fakecloud import __version__
from fakecloud.core.config import Settings, load_settings
from fakecloud.core.errors import UserError
from fakecloud.core.logs import configure_logging

# Each module defines register(subparsers); a command's handler is set as `handler`
# and called with (args, settings) -> int | None.
COMMAND_MODULES = (
    "serve",
    "dns",
    "dns_config",
    "hostnames",
    "certs",
    "account",
    "camera",
    "captures",
    "sim",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not the whole usage block
        self.exit(2, f"fakecloud: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fakecloud",
        description=(
            "Self-hosted replacement for the Seedonk cloud behind Belkin NetCam cameras. "
            "Start with 'fakecloud serve'; settings come from FAKECLOUD_* variables or --config."
        ),
    )
    parser.add_argument("--version", action="version", version=f"fakecloud {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (also FAKECLOUD_CONFIG)")
    parser.add_argument("--data-dir", type=Path, help="state folder (FAKECLOUD_DATA_DIR)")
    parser.add_argument("--log-format", choices=["text", "json"], help="FAKECLOUD_LOG_FORMAT")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"fakecloud.cli.{name}")
        module.register(commands)
    return parser


def settings_from_args(args: argparse.Namespace, **overrides: object) -> Settings:
    return load_settings(
        args.config,
        data_dir=args.data_dir,
        log_format=args.log_format,
        log_level=args.log_level,
        **overrides,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        settings = settings_from_args(
            args, **getattr(args, "setting_overrides", lambda a: {})(args)
        )
        configure_logging(settings.log_format, settings.log_level)
        return handler(args, settings) or 0
    except UserError as error:
        print(f"fakecloud: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
