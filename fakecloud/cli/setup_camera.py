"""`fakecloud setup-camera`: set a camera up through its own setup API, without the dead app."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import json
import sys
from pathlib import Path

from fakecloud.capture.log import CaptureLog
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.onboard.camera_api import CameraApi, CameraUnreachable
from fakecloud.onboard.flow import (
    PAIRING_MINUTES,
    STEPS,
    SetupFailed,
    SetupPlan,
    set_up_camera,
)
from fakecloud.sim.setup_mode import SETUP_ADDRESS
from fakecloud.store import Store


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "setup-camera",
        help="join a camera in setup mode to your Wi-Fi and your fakecloud account",
        description="Connect this machine to the camera's own Wi-Fi (NetCamXXXX, after pressing "
        "its setup switch), then run this. Secrets are read one a line from standard input, in "
        "this order: Wi-Fi password, account password, camera password; each one whose "
        "--...-stdin flag is not given is asked for at the terminal.",
    )
    parser.add_argument("--camera-ip", default=SETUP_ADDRESS, help=f"default {SETUP_ADDRESS}")
    parser.add_argument("--camera-port", type=int, default=80, help="default 80")
    parser.add_argument("--ssid", required=True, help="the Wi-Fi network the camera joins")
    parser.add_argument("--wifi-password-stdin", action="store_true")
    parser.add_argument("--account", required=True, help="the fakecloud account it belongs to")
    parser.add_argument("--account-password-stdin", action="store_true")
    parser.add_argument("--email", help="the account's e-mail (default: the login, if one)")
    parser.add_argument("--name", default="NetCam", help="the camera's name (default NetCam)")
    parser.add_argument("--camera-user", default="admin", help="setup-mode user (default admin)")
    parser.add_argument(
        "--camera-password-stdin", action="store_true", help="default password: admin"
    )
    parser.add_argument(
        "--server-host",
        help="what the camera is told its cloud is (SeedonkServerIp; default: the announce "
        "address). Whether the camera keeps it is unknown, so DNS must still lead here.",
    )
    parser.add_argument("--time-zone", default=_local_zone(), help="Olson name, e.g. Europe/Paris")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object a line per step and for the end"
    )
    parser.add_argument("--poll-interval", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--poll-timeout", type=float, default=120.0, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_setup_camera)


def _local_zone() -> str:
    try:
        return Path("/etc/timezone").read_text().strip() or "UTC"
    except OSError:
        return "UTC"


def _secret(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError(f"standard input ended before the {prompt.lower()}")
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise UserError(f"give the {prompt.lower()} on standard input (see --help)")
    return getpass.getpass(f"{prompt}: ")


def prepare_account(settings: Settings, login: str, password: str) -> str:
    """The account in fakecloud: created when missing, its password checked when not; then a
    pairing window, so the camera's first login makes it the account's."""
    with Store(settings.database_path) as store:
        if store.get_account(login) is None:
            store.add_account(login, password)
            done = f"created account {login}"
        elif store.verify_password(login, password) is None:
            raise UserError(
                f"the password is not {login}'s in fakecloud; the camera would be refused "
                f"(change it with `fakecloud account passwd {login}`)"
            )
        else:
            done = f"account {login} exists and the password matches"
        store.open_pairing_window(login, PAIRING_MINUTES)
    return f"{done}; cameras logging in within {PAIRING_MINUTES:g} minutes join it"


def _setup_camera(args: argparse.Namespace, settings: Settings) -> int:
    try:
        camera_host = ipaddress.ip_address(args.camera_ip)
    except ValueError:
        raise UserError(f"--camera-ip {args.camera_ip!r} is not an IP address") from None
    wifi = _secret(args.wifi_password_stdin, "Wi-Fi password")
    password = _secret(args.account_password_stdin, "Account password")
    camera_password = _secret(True, "Camera password") if args.camera_password_stdin else "admin"
    prepared = prepare_account(settings, args.account, password)
    if not args.json:
        print(f"fakecloud: {prepared}")
    plan = SetupPlan(
        ssid=args.ssid,
        wifi_password=wifi,
        login=args.account,
        password=password,
        email=args.email or (args.account if "@" in args.account else ""),
        name=args.name,
        server_host=args.server_host or settings.effective_announce_address,
        time_zone=args.time_zone,
        poll_interval=args.poll_interval,
        poll_timeout=args.poll_timeout,
    )
    host = f"[{camera_host}]" if camera_host.version == 6 else str(camera_host)
    recorder = CaptureLog(
        settings.captures_dir,
        settings.capture_max_bytes,
        min_free_bytes=settings.capture_min_free_bytes,
    )

    def say(text: str, **fields: object) -> None:
        print(json.dumps(fields) if args.json else text, flush=True)

    def progress(step: str, message: str) -> None:
        number = STEPS.index(step) + 1
        say(f"[{number}/{len(STEPS)}] {step}: {message}", step=step, number=number, message=message)

    async def run() -> None:
        url = f"http://{host}:{args.camera_port}"
        async with CameraApi(url, args.camera_user, camera_password, recorder) as api:
            await set_up_camera(api, plan, progress)

    try:
        asyncio.run(run())
    except SetupFailed as failure:
        text = f"setup stopped at '{failure.step}': {failure.what}\nfix: {failure.fix}"
        say(text, result="failed", step=failure.step, what=failure.what, fix=failure.fix)
        return 1
    except CameraUnreachable as error:
        text = f"setup stopped: {error}" + (f"\nfix: {error.fix}" if error.fix else "")
        say(text, result="failed", step=None, what=str(error), fix=error.fix)
        return 1
    finally:
        recorder.close()
    done = "the camera restarts on your Wi-Fi and should be online in fakecloud within a minute"
    say(f"done: {done}", result="done", what=done)
    return 0
