"""`fakecloud hostnames`: print the hostname catalogue."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "hostnames",
        help="list the vendor hostnames fakecloud answers for",
        description="The hostname catalogue, with purpose, ports, confidence and redirect flag.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_hostnames)


def _hostnames(args: argparse.Namespace, settings: Settings) -> int:
    catalogue = load_catalogue(settings.extra_hostnames)
    if args.json:
        print(json.dumps([asdict(entry) for entry in catalogue.entries], indent=2))
        return 0
    width = max(len(entry.name) for entry in catalogue.entries)
    for entry in catalogue.entries:
        redirect = "redirected" if entry.redirect else "left alone"
        print(f"{entry.name:<{width}}  {redirect:<10}  {entry.confidence:<9}  {entry.purpose}")
    return 0
