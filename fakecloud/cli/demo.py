"""`fakecloud demo clean`: remove what `fakecloud serve --demo` added, and only that."""

from __future__ import annotations

import argparse

from fakecloud.cli.account import open_store
from fakecloud.core.config import Settings
from fakecloud.sim.demo import DEMO_MAC_PREFIX
from fakecloud.sim.demo_part import (
    DEMO_LOGIN,
    demo_lock,
    forget_demo_record,
    read_demo_record,
)
from fakecloud.store.protocol import AdminStore


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="the demo of 'serve --demo': remove it with 'demo clean'",
        description="'fakecloud serve --demo' adds a demo account (login demo, or demo-2 and on "
        f"when an account of yours has that name) and simulated cameras with MACs "
        f"{DEMO_MAC_PREFIX}:…, which never collide with real or 'fakecloud sim' cameras.",
    )
    actions = demo.add_subparsers(title="actions", metavar="ACTION", required=True)
    clean = actions.add_parser(
        "clean",
        help="remove the demo account, its cameras, tokens, sessions and events",
        description="Removes the demo account, its cameras, tokens, session log and events, and "
        f"any unowned {DEMO_MAC_PREFIX}:… camera; nothing else. Run it while the server is "
        "stopped or running without --demo; while a server runs the demo it refuses and "
        "changes nothing.",
    )
    clean.set_defaults(handler=_clean)


def _clean(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = settings.data_dir
    # Held throughout, so no server starts the demo while its data is being removed.
    with demo_lock(data_dir), open_store(settings) as store:
        record = read_demo_record(data_dir)
        account = store.get_account(record.login) if record is not None else None
        if account is None or record is None or account.alias != record.alias:
            forget_demo_record(data_dir)
            print(f"no demo data in {data_dir}")
            _note_foreign_demo_login(store)
            return 0
        cameras = [
            camera
            for camera in store.list_cameras()
            if camera.owner == account.login
            or (camera.owner is None and camera.mac.startswith(DEMO_MAC_PREFIX))
        ]
        sessions = store.forget_sessions(account.login, [camera.id for camera in cameras])
        for camera in cameras:
            store.forget_camera(camera.id)  # its events go with it
        store.remove_account(account.login)  # its tokens go with it
        forget_demo_record(data_dir)
    print(
        f"removed the demo account {account.login!r}, {len(cameras)} camera(s) with their "
        f"events, its tokens and {sessions} session log line(s)"
    )
    return 0


def _note_foreign_demo_login(store: AdminStore) -> None:
    """An account called demo that the demo did not make (a user's, or one from a fakecloud
    older than the demo record) is left alone, but said."""
    if store.get_account(DEMO_LOGIN) is not None:
        print(
            f"the account {DEMO_LOGIN!r} was not made by the demo and is kept; if it is not "
            f"yours, remove it with 'fakecloud account remove {DEMO_LOGIN}'"
        )
