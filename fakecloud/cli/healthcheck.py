"""`fakecloud healthcheck`: is the HTTP app answering? (Docker's HEALTHCHECK runs this.)"""

from __future__ import annotations

import argparse
import urllib.request

from fakecloud.core.config import WILDCARD_ADDRESSES, Settings
from fakecloud.core.errors import UserError

TIMEOUT_SECONDS = 4.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "healthcheck",
        help="exit 0 when the HTTP app answers /healthz (for Docker and monitoring)",
        description="Asks /healthz on the configured bind address and HTTP port. Only the HTTP "
        "app counts: a DNS shim that could not start (port 53 taken) is a warning, not a failure.",
    )
    parser.set_defaults(handler=_check)


def health_url(settings: Settings) -> str:
    """Where the app listens: the bind address, or loopback when it binds every address."""
    host = settings.bind_address
    if host in WILDCARD_ADDRESSES:
        host = "::1" if host == "::" else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http_port}/healthz"


def _check(args: argparse.Namespace, settings: Settings) -> int:
    url = health_url(settings)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            answer.read()
    except OSError as error:  # URLError and timeouts too
        raise UserError(f"{url} does not answer: {error}") from None
    print(f"{url} ok")
    return 0
