"""`fakecloud hostnames`: print the hostname catalogue."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from fakecloud.catalogue import Catalogue, load_catalogue
from fakecloud.core.config import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "hostnames",
        help="list the vendor hostnames fakecloud answers for",
        description="The hostname catalogue, with purpose, ports, confidence and redirect flag.",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--markdown", action="store_true", help="the README's table")
    parser.set_defaults(handler=_hostnames)


def _hostnames(args: argparse.Namespace, settings: Settings) -> int:
    catalogue = load_catalogue(settings.extra_hostnames)
    if args.json:
        print(json.dumps([asdict(entry) for entry in catalogue.entries], indent=2))
        return 0
    if args.markdown:
        print(markdown_table(catalogue))
        return 0
    width = max(len(entry.name) for entry in catalogue.entries)
    for entry in catalogue.entries:
        redirect = "redirected" if entry.redirect else "left alone"
        print(f"{entry.name:<{width}}  {redirect:<10}  {entry.confidence:<9}  {entry.purpose}")
    return 0


def markdown_table(catalogue: Catalogue) -> str:
    rows = [
        "| name | who calls it | purpose | ports | confidence | redirected |",
        "|---|---|---|---|---|---|",
    ]
    for entry in catalogue.entries:
        redirected = "yes" if entry.redirect else "opt-in" if entry.opt_in else "no"
        ports = ", ".join(entry.ports)
        rows.append(
            f"| `{entry.name}` | {entry.callers} | {entry.purpose} | {ports} "
            f"| {entry.confidence} | {redirected} |"
        )
    return "\n".join(rows)
