"""`fakecloud sim setup-mode`: a camera in setup mode, for trying `fakecloud setup-camera`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.doctor.names import Resolver
from fakecloud.net.setup_answers import Site
from fakecloud.sim.setup_mode import SetupModeCamera, setup_mode_server


def register(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = kinds.add_parser(
        "setup-mode",
        help="a camera in setup mode (its HTTP API, Basic admin:admin) until Ctrl-C",
        description="Sees one Wi-Fi network, accepts the password read from standard input, "
        "then checks what a real camera checks: server.seedonk.com resolves (at --resolver) "
        "and answers ping.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="default 8080 (a camera uses 80)")
    parser.add_argument("--ssid", required=True, help="the Wi-Fi network the camera sees")
    parser.add_argument(
        "--wifi-password-stdin", action="store_true", help="that network's password (first line)"
    )
    parser.add_argument(
        "--resolver",
        metavar="HOST:PORT",
        help="the network's DNS (default: fakecloud's DNS shim on this host)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        resolver = Resolver.parse(args.resolver) if args.resolver else Resolver.of_shim(settings)
    except ValueError as error:
        raise UserError(f"--resolver: {error}") from None
    password = sys.stdin.readline().rstrip("\r\n") if args.wifi_password_stdin else ""
    site = Site(
        "6", args.ssid, "02:00:00:00:00:01", "WPA2PSK/AES" if password else "NONE", "80", "NO"
    )
    camera = SetupModeCamera({args.ssid: (site, password)}, (resolver.host, resolver.port))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(camera, args.host, args.port))
    return 0


async def _serve(camera: SetupModeCamera, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    server = setup_mode_server(camera, host, port)
    await server.start()
    print(f"setup-mode camera on http://{host}:{server.port}/ (admin/admin)", flush=True)
    try:
        left = asyncio.create_task(camera.left_setup.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({left, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if left.done():
            owner = camera.owner[0] if camera.owner else "nobody"
            print(f"left setup mode: owner {owner}, name {camera.name!r}", flush=True)
            await stopped
        left.cancel()
    finally:
        await server.stop()
