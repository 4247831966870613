"""The `fakecloud` command: one entry point, one module per command group."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pwd
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from fakecloud import __version__
from fakecloud.core.config import Settings, load_settings, unknown_variables
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
    "onvif",
    "pair",
    "captures",
    "sim",
    "demo",
    "healthcheck",
    "doctor",
    "setup_camera",
)
# Commands that never create or write the data folder, so they run whatever state it is in.
DATA_FREE_COMMANDS = frozenset({"dns", "dns-config", "hostnames", "sim", "healthcheck", "doctor"})
# Security consideration: the database, its WAL, captures and keys are the owner's alone; every
# file and folder fakecloud creates is private whatever umask it was started with.
PRIVATE_UMASK = 0o077
DOCKER_FIX = (
    "with a Docker bind mount, make the host folder owned by that user "
    "(sudo chown -R {uid}:{gid} HOST_FOLDER) or set PUID/PGID in .env to the folder's owner"
)

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not the whole usage block
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
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="command_name", parser_class=_Parser
    )
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


def _user() -> str:
    uid = os.getuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid}, gid {os.getgid()})"
    except KeyError:  # a Docker `user:` with no passwd entry
        return f"uid {uid}, gid {os.getgid()}"


def prepare_data_dir(path: Path) -> None:
    """Create the data folder (private) and prove it writable, or raise one UserError line that
    names the path, the user and the fix."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        fix = DOCKER_FIX.format(uid=os.getuid(), gid=os.getgid())
        raise UserError(
            f"data folder {path} cannot be created or written as user {_user()}: "
            f"{error.strerror or error}; make it writable by that user, or {fix}, "
            "or point FAKECLOUD_DATA_DIR (--data-dir) at a folder it can write"
        ) from None
    if path.stat().st_uid == os.getuid():
        with contextlib.suppress(OSError):
            path.chmod(0o700)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    previous_umask = os.umask(PRIVATE_UMASK)
    try:
        settings = settings_from_args(
            args, **getattr(args, "setting_overrides", lambda a: {})(args)
        )
        configure_logging(settings.log_format, settings.log_level)
        for warning in unknown_variables():
            log.warning("%s", warning)
        if args.command_name not in DATA_FREE_COMMANDS:
            prepare_data_dir(settings.data_dir)
        return handler(args, settings) or 0
    except UserError as error:
        print(f"fakecloud: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        os.umask(previous_umask)


if __name__ == "__main__":
    sys.exit(main())
