"""`fakecloud onvif`: the ONVIF password of an account and the port each camera's device has."""

from __future__ import annotations

import argparse

from fakecloud.cli.account import open_store
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.onvif.auth import load_key, onvif_password
from fakecloud.onvif.ports import PortBook


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    onvif = commands.add_parser(
        "onvif",
        help="ONVIF passwords and device ports (FAKECLOUD_ONVIF_ENABLED)",
        description="NVRs add a camera by ONVIF with the account's login and its ONVIF "
        "password (docs/onvif.md).",
    )
    actions = onvif.add_subparsers(title="actions", metavar="ACTION", required=True)
    password = actions.add_parser(
        "password", help="print an account's ONVIF password (for PasswordDigest)"
    )
    password.add_argument("login")
    password.set_defaults(handler=_password)
    ports = actions.add_parser("ports", help="list each camera's ONVIF device address")
    ports.set_defaults(handler=_ports)


def _password(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        account = store.get_account(args.login)
    if account is None:
        raise UserError(f"no account named {args.login!r}")
    print(onvif_password(load_key(settings.data_dir), account))
    return 0


def _ports(args: argparse.Namespace, settings: Settings) -> int:
    book = PortBook(settings.data_dir, settings.onvif_port_base)
    with open_store(settings) as store:
        cameras = {camera.id: camera for camera in store.list_cameras()}
    if not book.ports:
        print("no camera has an ONVIF device yet (they get one when fakecloud serves them)")
    for camera_id, port in sorted(book.ports.items(), key=lambda item: item[1]):
        camera = cameras.get(camera_id)
        name = (camera.name or camera.mac) if camera else "(forgotten camera)"
        host = settings.effective_announce_address
        print(f"{port:>5}  camera {camera_id}  {name}  http://{host}:{port}/onvif/device_service")
    return 0
