"""`fakecloud doctor`: what would stop cameras, in plain words, with the fix for each."""

from __future__ import annotations

import argparse
import asyncio
import json

from fakecloud.cli.healthcheck import health_url
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.doctor.names import Resolver
from fakecloud.doctor.run import fetch_status, run_doctor


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check ports, addresses, DNS, certificates and camera activity; suggest fixes",
        description="Runs every check and explains each problem with its fix. Exit status 1 "
        "when something would stop cameras, 0 otherwise (warnings are advice).",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    parser.add_argument(
        "--resolver",
        metavar="HOST:PORT",
        help="ask this DNS resolver (e.g. the router) instead of fakecloud's own shim",
    )
    parser.add_argument(
        "--server", metavar="URL", help="the running fakecloud (default: this host's HTTP port)"
    )
    parser.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    try:
        resolver = Resolver.parse(args.resolver) if args.resolver else None
    except ValueError as error:
        raise UserError(f"--resolver {args.resolver}: {error}") from None
    server = args.server or health_url(settings).removesuffix("/healthz")

    async def diagnose() -> int:
        report = await run_doctor(settings, await fetch_status(server), server, resolver)
        print(json.dumps(report.as_json(), indent=2) if args.json else report.as_text())
        return report.exit_code

    return asyncio.run(diagnose())
