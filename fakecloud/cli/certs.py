"""`fakecloud certs`: create, inspect, export and renew the local certificate authority."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fakecloud.certs import CertificateAuthority, ExportFormat, ensure_authority
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "certs",
        help="the local certificate authority (CA, device and app certificates)",
        description=(
            "fakecloud keeps its own CA in <data dir>/certs. Phones must trust the CA "
            "('certs export'); cameras get a long-lived device certificate."
        ),
    )
    parser.set_defaults(handler=lambda args, settings: _usage(parser))
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    create = actions.add_parser(
        "create",
        help="create the CA and certificates (keeps existing keys)",
        description="Create what is missing, re-issue leaves whose names changed.",
    )
    create.set_defaults(handler=_create)

    show = actions.add_parser("show", help="fingerprints, validity and names of each certificate")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=_show)

    export = actions.add_parser(
        "export",
        help="write the CA certificate for installing on a phone or computer",
        description=(
            "pem: most systems; der: Android and Windows; mobileconfig: iOS profile "
            "(then enable full trust under Settings > General > About)."
        ),
    )
    export.add_argument("--format", choices=["pem", "der", "mobileconfig"], default="pem")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=_export)

    renew = actions.add_parser(
        "renew",
        help="issue a fresh app certificate (825 days); restart 'serve' to use it",
    )
    renew.set_defaults(handler=_renew)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _create(args: argparse.Namespace, settings: Settings) -> int:
    authority = ensure_authority(settings)
    print(f"certificate authority ready in {authority.certs_dir}")
    _print_description(authority.describe())
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    described = CertificateAuthority.load(settings.certs_dir).describe()
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        _print_description(described)
    return 0


def _print_description(described: list[dict[str, object]]) -> None:
    for entry in described:
        print(f"{entry['role']}: {entry['subject']}")
        print(f"  sha256     {entry['sha256']}")
        print(f"  valid      {entry['not_before']} to {entry['not_after']}")
        sans = entry["sans"]
        if isinstance(sans, list) and sans:
            print(f"  names      {', '.join(str(name) for name in sans)}")
        print(f"  file       {entry['path']}")


def _export(args: argparse.Namespace, settings: Settings) -> int:
    export_format: ExportFormat = args.format
    data = CertificateAuthority.load(settings.certs_dir).export(export_format)
    if args.output is None:
        if export_format != "pem" and sys.stdout.isatty():
            raise UserError(f"{export_format} is binary; add --output FILE")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    try:
        args.output.write_bytes(data)
    except OSError as error:
        raise UserError(f"cannot write {args.output}: {error.strerror or error}") from None
    print(f"wrote {args.output} ({export_format}, {len(data)} bytes)", file=sys.stderr)
    return 0


def _renew(args: argparse.Namespace, settings: Settings) -> int:
    authority = ensure_authority(settings)
    authority.renew_app_leaf()
    app = next(entry for entry in authority.describe() if entry["role"] == "app")
    print(f"app certificate renewed, valid until {app['not_after']}; restart 'serve' to use it")
    print(f"  sha256     {app['sha256']}")
    return 0
