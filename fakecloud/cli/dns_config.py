"""`fakecloud dns-config`: print router configuration that redirects the vendor names."""

from __future__ import annotations

import argparse

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.dns import RECIPE_FORMATS, render_recipe


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dns-config",
        help="print DNS configuration for your router (dnsmasq, Pi-hole, unbound, ...)",
        description=(
            "Print the configuration that makes another DNS server (your router, Pi-hole, "
            "AdGuard Home, unbound) answer the vendor names with fakecloud's address."
        ),
    )
    parser.add_argument("--format", required=True, choices=RECIPE_FORMATS, dest="recipe_format")
    parser.add_argument(
        "--address",
        help="address to hand out (default: FAKECLOUD_ANNOUNCE_ADDRESS or this host's LAN address)",
    )
    parser.set_defaults(handler=_dns_config)


def _dns_config(args: argparse.Namespace, settings: Settings) -> int:
    address = args.address or settings.effective_announce_address
    try:
        text = render_recipe(args.recipe_format, load_catalogue(settings.extra_hostnames), address)
    except ValueError as error:
        raise UserError(str(error)) from None
    print(text, end="")
    return 0
