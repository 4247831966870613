"""`fakecloud pair`: a pairing window, like Zigbee's permit-join."""

from __future__ import annotations

import argparse

from fakecloud.cli.account import open_store
from fakecloud.core.config import Settings

DEFAULT_MINUTES = 10.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pair = commands.add_parser(
        "pair",
        help="let new cameras join an account for a few minutes",
        description=(
            "Opens a pairing window: every unknown or pending camera that logs in before it "
            "closes becomes the account's. A running server sees the window at once."
        ),
    )
    pair.add_argument("--account", required=True, help="the account the cameras join")
    pair.add_argument(
        "--minutes", type=float, default=DEFAULT_MINUTES, help="how long (default 10)"
    )
    pair.add_argument("--close", action="store_true", help="close the window now")
    pair.set_defaults(handler=_pair)


def _pair(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        if args.close:
            closed = store.close_pairing_window(args.account)
            print("pairing window closed" if closed else "no pairing window was open")
            return 0
        expires = store.open_pairing_window(args.account, args.minutes)
    until = expires.astimezone().strftime("%H:%M:%S")
    print(f"cameras that log in until {until} join {args.account} (close: --close)")
    return 0
