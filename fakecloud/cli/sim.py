"""`fakecloud sim camera|app`: simulated NetCams and a simulated app against a broker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from fakecloud.cli import sim_setup
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.net.cxnet import Action, CXNetError
from fakecloud.net.properties import parse_properties
from fakecloud.sim import parse_server
from fakecloud.sim.app import SimulatedApp
from fakecloud.sim.camera import LoginRefused, SimulatedCamera
from fakecloud.sim.demo import demo_cameras
from fakecloud.sim.video import DEFAULT_PROFILE, PROFILES

MAX_SIM_CAMERAS = 10_000
# How long cameras may go without a login before the simulator says it is still trying.
QUIET_SECONDS = 10.0
NO_SERVER_HINT = "is 'fakecloud serve' running there, and is --server its address and port?"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser("sim", help="simulated cameras and apps (testing without hardware)")
    kinds = sim.add_subparsers(title="simulators", metavar="KIND", required=True)

    camera = kinds.add_parser("camera", help="run simulated NetCams until Ctrl-C")
    _server_arguments(camera)
    camera.add_argument("--count", type=int, default=1, help="how many cameras (default 1)")
    camera.add_argument(
        "--account", help="LOGIN:PASSWORD of the owner (omit to test the learning policy)"
    )
    camera.add_argument("--keepalive", type=float, default=30.0, help="seconds between keepalives")
    camera.add_argument(
        "--video",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stream a test pattern when asked for video (default: on)",
    )
    camera.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=DEFAULT_PROFILE,
        help=f"camera model: {_profiles_help()} (default {DEFAULT_PROFILE})",
    )
    camera.add_argument(
        "--relay-host",
        help="send video to this host instead of the login reply's p2p-host "
        "(e.g. 127.0.0.1 when the simulator runs on the server's machine)",
    )
    camera.set_defaults(handler=_run_cameras)

    app = kinds.add_parser("app", help="log in as an app, list cameras, optionally send a command")
    _server_arguments(app)
    who = app.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--token",
        help="access token from 'fakecloud account token' (bare or myQ.accessToken:…): logs in "
        "as the public Tend clients do, with no user name",
    )
    who.add_argument("--account", help="LOGIN:PASSWORD")
    app.add_argument("--command", help="command string, e.g. 'modify-device|ID|QTY=3+FPS=20|'")
    app.add_argument("--camera", help="camera id (or id:mac) the command goes to")
    app.set_defaults(handler=_run_app)
    sim_setup.register(kinds)


def _profiles_help() -> str:
    return ", ".join(
        f"{model} {profile.codec.upper()} {profile.width}x{profile.height}"
        for model, profile in sorted(PROFILES.items())
    )


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", required=True, help="broker address HOST:PORT")
    parser.add_argument("--tls", action="store_true", help="connect with TLS (not verified)")


def _server(args: argparse.Namespace) -> tuple[str, int]:
    try:
        return parse_server(args.server)
    except ValueError as error:
        raise UserError(str(error)) from None


def _account(text: str | None) -> tuple[str | None, str | None]:
    if text is None:
        return None, None
    login, sep, password = text.partition(":")
    if not sep or not login:
        raise UserError("--account must be LOGIN:PASSWORD")
    return login, password


def _run_cameras(args: argparse.Namespace, settings: Settings) -> int:
    host, port = _server(args)
    login, password = _account(args.account)
    if not 1 <= args.count <= MAX_SIM_CAMERAS:
        raise UserError(f"--count must be between 1 and {MAX_SIM_CAMERAS}")
    cameras = demo_cameras(
        host,
        port,
        login,
        password,
        args.count,
        tls=args.tls,
        keepalive_interval=args.keepalive,
        video=args.video,
        profile=args.profile,
        relay_host=args.relay_host,
    )
    # Progress goes to stderr: stdout carries one line per camera event, which scripts read.
    print(f"connecting {len(cameras)} simulated camera(s) to {args.server}", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_cameras(cameras, args.server))
    return 0


async def say_while_nobody_answers(
    cameras: list[SimulatedCamera], server: str, quiet_seconds: float = QUIET_SECONDS
) -> None:
    """One line per quiet period while no camera is logged in, so a wrong --server or a
    stopped server is not mistaken for a hang."""
    while True:
        waits = [asyncio.create_task(camera.logged_in.wait()) for camera in cameras]
        done, pending = await asyncio.wait(
            waits, timeout=quiet_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for wait in pending:
            wait.cancel()
        if done:
            return
        print(
            f"no login at {server} after {quiet_seconds:g} s ({NO_SERVER_HINT}); still trying",
            file=sys.stderr,
        )


async def _cameras(cameras: list[SimulatedCamera], server: str) -> int:
    async def announce(camera: SimulatedCamera) -> None:
        while True:
            await camera.logged_in.wait()
            print(f"camera {camera.mac} online as device {camera.camera_id}", flush=True)
            await camera.disconnected.wait()
            print(f"camera {camera.mac} disconnected; retrying", flush=True)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(say_while_nobody_answers(cameras, server))
            for camera in cameras:
                group.create_task(camera.run())
                group.create_task(announce(camera))
    except* LoginRefused as refused:
        raise UserError(f"login refused: {refused.exceptions[0]}") from None
    return 0


def _run_app(args: argparse.Namespace, settings: Settings) -> int:
    host, port = _server(args)
    login, password = _account(args.account)
    if (args.command is None) != (args.camera is None):
        raise UserError("--command and --camera go together")
    if args.token is not None and not args.token.strip():
        raise UserError("--token is empty")
    app = SimulatedApp(
        host, port, login=login or "", password=password or "", token=args.token, tls=args.tls
    )
    try:
        return asyncio.run(_app_session(app, args.command, args.camera))
    except LoginRefused as refused:
        raise UserError(f"login refused: {refused}") from None
    except (OSError, TimeoutError, CXNetError) as error:
        raise UserError(
            f"cannot talk to {args.server}: {error or 'timed out'} ({NO_SERVER_HINT})"
        ) from None


async def _app_session(app: SimulatedApp, command: str | None, camera: str | None) -> int:
    try:
        await app.login()
        print(f"logged in (after {app.redirects} redirect(s)); cameras:")
        for entry in app.cameras:
            state = "online" if entry.online else "offline"
            print(f"  {entry.device_id}  {entry.mac}  {state}  LIP={entry.fields.get('LIP', '')}")
        if command is None or camera is None:
            return 0
        destination = camera
        if ":" not in destination:
            known = {str(entry.device_id): entry.destination for entry in app.cameras}
            destination = known.get(camera, camera)
        reply = await app.command(destination, command)
        if reply.action == Action.ERROR:
            print(f"error: {parse_properties(reply.body).get('reason', 'refused')}")
            return 1
        print(f"reply: {reply.body.decode('utf-8', 'replace')}")
        return 0
    finally:
        await app.close()
        sys.stdout.flush()
