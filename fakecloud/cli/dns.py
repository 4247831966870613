"""`fakecloud dns`: run the DNS shim on its own."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.dns import DnsPart

log = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dns",
        help="run only the DNS shim (vendor names -> this host, the rest forwarded)",
        description=(
            "Answer DNS for the vendor names with fakecloud's address and forward every other "
            "name to the upstream resolvers, until interrupted."
        ),
    )
    parser.add_argument("--port", type=int, help="port to listen on (FAKECLOUD_DNS_PORT)")
    parser.add_argument(
        "--upstream",
        action="append",
        metavar="HOST[:PORT]",
        help="resolver to forward to; repeat for failover (FAKECLOUD_DNS_UPSTREAMS)",
    )
    parser.set_defaults(handler=_dns, setting_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    return {"dns_port": args.port, "dns_upstreams": args.upstream}


def _dns(args: argparse.Namespace, settings: Settings) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_dns(settings))
    return 0


async def run_dns(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve DNS until SIGINT/SIGTERM (or until `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    part = DnsPart(settings, load_catalogue(settings.extra_hostnames))
    await part.start()
    if part.failure is not None:
        raise UserError(f"cannot run the DNS shim: {part.failure}")
    log.info("DNS shim is running; press Ctrl-C to stop")
    try:
        await stop.wait()
    finally:
        await part.stop()
        counters = part.status()["counters"]
        log.info(
            "DNS shim stopped after %d queries (%d redirected, %d forwarded)",
            counters["queries"],
            counters["redirected"],
            counters["forwarded"],
        )
