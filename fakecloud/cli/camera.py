"""`fakecloud camera`: the cameras fakecloud knows (they appear when they first log in)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from fakecloud.cli.account import open_store
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.media.urls import snippets, stream_key, urls_for_settings
from fakecloud.store import Camera
from fakecloud.store.protocol import AdminStore

RECENT_EVENTS = 10


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    camera = commands.add_parser(
        "camera",
        help="list, show, approve and forget cameras",
        description=(
            "Cameras are added when they first log in to fakecloud. One that logged in without "
            "its owner's credentials is pending until approved (or paired: 'fakecloud pair')."
        ),
    )
    actions = camera.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list the known cameras")
    listing.add_argument("--owner", help="only this account's cameras")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="everything known about one camera")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument(
        "--show-key", action="store_true", help="include the camera's p2p key (its AES key)"
    )
    show.set_defaults(handler=_show)

    approve = actions.add_parser(
        "approve", help="give a pending camera its owner (see 'camera list')"
    )
    approve.add_argument("id", type=int)
    approve.add_argument("--account", required=True, help="the account that owns it")
    approve.set_defaults(handler=_approve)

    urls = actions.add_parser(
        "urls",
        help="every URL of a camera, and configuration for go2rtc, Frigate, Home Assistant, "
        "Blue Iris and VLC",
    )
    urls.add_argument("camera", metavar="ID", help="the camera's id, or its name or alias")
    urls.add_argument("--json", action="store_true", help="machine-readable output")
    urls.set_defaults(handler=_urls)

    forget = actions.add_parser(
        "forget", help="delete a camera and its events (it is re-added if it logs in again)"
    )
    forget.add_argument("id", type=int)
    forget.set_defaults(handler=_forget)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        cameras = store.list_cameras(owner=args.owner)
    if args.json:
        print(json.dumps([camera.to_json() for camera in cameras], indent=2))
    elif not cameras:
        print("no cameras yet: they appear here when they first log in")
    else:
        for camera in cameras:
            state = "online " if camera.online else "offline"
            owner = f"owner {camera.owner}" if camera.owner else "PENDING"
            print(
                f"{camera.id:<14} {camera.mac}  {state}  {owner:<22} "
                f"{camera.name or camera.alias}  from {camera.last_ip or '-'}  "
                f"last seen {camera.to_json()['last_seen'] or 'never'}"
            )
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        camera = store.get_camera(args.id)
        if camera is None:
            raise UserError(f"no camera {args.id}")
        events = store.list_events(camera.id, limit=RECENT_EVENTS)
    record = camera.to_json(include_key=args.show_key)
    record["recent_events"] = [event.to_json() for event in events]
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        _print_camera(camera, record)
    return 0


def _print_camera(camera: Camera, record: dict[str, Any]) -> None:
    for key, value in record.items():
        if key == "recent_events":
            continue
        shown = json.dumps(value) if isinstance(value, dict) else value
        print(f"{key:<12} {'-' if value in (None, {}) else shown}")
    print(f"dst id       {camera.id}:{camera.mac}")
    for event in record["recent_events"]:
        print(f"event        {event['time']}  {event['kind']}  {json.dumps(event['data'])}")


def _find(store: AdminStore, wanted: str) -> Camera:
    """A camera by id, else by its name or alias (case-insensitive)."""
    camera = store.get_camera(int(wanted)) if wanted.isdecimal() else None
    if camera is None:
        folded = wanted.casefold()
        named = [
            known
            for known in store.list_cameras()
            if folded in ((known.name or "").casefold(), known.alias.casefold())
        ]
        if len(named) > 1:
            raise UserError(f"{len(named)} cameras are named {wanted!r}: use the id")
        camera = named[0] if named else None
    if camera is None:
        raise UserError(f"no camera {wanted!r}")
    return camera


def _urls(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        camera = _find(store, args.camera)
    urls = urls_for_settings(settings, camera.id, camera.name)
    ready = snippets(urls, stream_key(camera.id, camera.name))
    if args.json:
        print(json.dumps({"id": camera.id, "urls": urls.as_dict(), "snippets": ready}, indent=2))
        return 0
    print(f"camera {camera.id} ({camera.name or camera.alias})")
    for key, url in urls.as_dict().items():
        if url is not None:
            print(f"{key:<13} {url}")
    print(
        "Clients outside FAKECLOUD_TRUSTED_NETWORKS log in: http://LOGIN:TOKEN@... and "
        "rtsp://LOGIN:TOKEN@... (a token from 'fakecloud account token LOGIN')."
    )
    for product, text in ready.items():
        print(f"\n# {product}\n{text}", end="")
    return 0


def _approve(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        camera = store.approve_camera(args.id, args.account)
    print(f"camera {camera.id} ({camera.mac}) belongs to {camera.owner}")
    if camera.accepts_unproven:
        print(
            "warning: its login carries no secret, so it cannot prove who it is: any device "
            "that names its MAC can take its place. Give it the owner's credentials if it can."
        )
    print("a running server applies this at the camera's next login")
    return 0


def _forget(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        store.forget_camera(args.id)
    print(f"camera {args.id} forgotten")
    return 0
