"""`fakecloud account`: the accounts cameras and apps log in with (there are no default ones)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.store import Store
from fakecloud.store.accounts import TOKEN_MARKER
from fakecloud.store.protocol import AdminStore


def open_store(settings: Settings) -> AdminStore:
    """The database at settings.database_path (its folder is created when missing)."""
    return Store(settings.database_path)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = commands.add_parser(
        "account",
        help="add, list, change and remove accounts",
        description="Accounts for the Wemo/Seedonk app and the cameras. There are none until you "
        "add one.",
    )
    actions = account.add_subparsers(title="actions", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create an account")
    add.add_argument("login")
    _password_arguments(add)
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="list the accounts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    passwd = actions.add_parser("passwd", help="change an account's password")
    passwd.add_argument("login")
    _password_arguments(passwd)
    passwd.set_defaults(handler=_passwd)

    remove = actions.add_parser(
        "remove", help="delete an account (its cameras stay known, without an owner)"
    )
    remove.add_argument("login")
    remove.set_defaults(handler=_remove)

    token = actions.add_parser(
        "token",
        help="issue an access token (the app's '<partner>.accessToken:<token>' password)",
        description="Prints a new token once; only its hash is kept. --list shows the issued "
        "ones, --revoke withdraws them all.",
    )
    token.add_argument("login")
    token.add_argument("--partner", default="myQ", help="partner prefix (default myQ)")
    what = token.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="list issued tokens instead")
    what.add_argument("--revoke", action="store_true", help="revoke every token of the account")
    token.add_argument("--json", action="store_true", help="machine-readable --list output")
    token.set_defaults(handler=_token)


def _password_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--password",
        help="the password (visible to other local users in the process list; "
        "prefer --password-stdin or the prompt)",
    )
    source.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line"
    )


def read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    # At a terminal, --password-stdin would echo the password as it is typed: prompt instead.
    if args.password_stdin and not sys.stdin.isatty():
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise UserError("give the password with --password, --password-stdin or at a terminal")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise UserError("the two passwords differ")
    return first


def _add(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args)
    with open_store(settings) as store:
        account = store.add_account(args.login, password)
    print(f"account {account.login} added")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        rows = [
            {
                "login": account.login,
                "alias": account.alias,
                "created": account.created.isoformat(timespec="seconds"),
                "cameras": len(store.list_cameras(owner=account.login)),
                "tokens": len(store.list_tokens(account.login)),
            }
            for account in store.list_accounts()
        ]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no accounts yet: add one with 'fakecloud account add LOGIN'")
    else:
        for row in rows:
            print(
                f"{row['login']:<24} alias {row['alias']}  created {row['created']}  "
                f"{row['cameras']} camera(s)  {row['tokens']} token(s)"
            )
    return 0


def _passwd(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args)
    with open_store(settings) as store:
        store.set_password(args.login, password)
    print(f"password of {args.login} changed")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        store.remove_account(args.login)
    print(f"account {args.login} removed; its cameras are now unowned")
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as store:
        if args.revoke:
            print(f"{store.revoke_tokens(args.login)} token(s) of {args.login} revoked")
        elif args.list:
            tokens = [
                {
                    "id": token.id,
                    "partner": token.partner,
                    "created": token.created.isoformat(timespec="seconds"),
                }
                for token in store.list_tokens(args.login)
            ]
            if args.json:
                print(json.dumps(tokens, indent=2))
            else:
                for token in tokens:
                    print(f"token {token['id']}  partner {token['partner']}  {token['created']}")
        else:
            issued = store.issue_token(args.login, args.partner)
            print(issued)
            print(_token_explanation(issued), file=sys.stderr)
    return 0


def _token_explanation(token: str) -> str:
    """What the two parts are for: `<partner>.accessToken:` names the app family the token is
    for, the rest is the secret; public clients differ in which form they send."""
    prefix = token.partition(TOKEN_MARKER)[0]
    return (
        "Shown once; only its hash is kept.\n"
        f"Apps and Home Assistant log in with the whole line ('{prefix}{TOKEN_MARKER}' and the "
        "token) as the password and an empty user name.\n"
        f"REST clients send it as 'Authorization: Bearer', whole or only the part after "
        f"'{TOKEN_MARKER}'; 'fakecloud sim app --token' takes either form too."
    )
