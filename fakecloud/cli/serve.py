"""`fakecloud serve`: run every configured part."""

from __future__ import annotations

import argparse

from fakecloud.core.config import Settings
from fakecloud.server import run


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve",
        help="run fakecloud (DNS shim, HTTP app, cloud front door, broker, relay)",
        description="Run every configured part until interrupted.",
    )
    parser.add_argument("--http-port", type=int, help="FAKECLOUD_HTTP_PORT")
    parser.add_argument("--dns-port", type=int, help="FAKECLOUD_DNS_PORT")
    parser.add_argument("--no-dns", action="store_true", help="do not run the DNS shim")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also run a demo account with 3 simulated cameras (its password is printed; "
        "'fakecloud demo clean' removes them)",
    )
    parser.set_defaults(handler=_serve, setting_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    return {
        "http_port": args.http_port,
        "dns_port": args.dns_port,
        "dns_enabled": False if args.no_dns else None,
    }


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    run(settings, demo=args.demo)
    return 0
