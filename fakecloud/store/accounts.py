"""Accounts, their passwords (checked under the verification cache) and access tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import string
from dataclasses import dataclass

from fakecloud.core.errors import UserError
from fakecloud.store.core import ACCOUNT_COLUMNS, StoreCore, account_from_row, parse_time
from fakecloud.store.models import (
    Account,
    Camera,
    TokenInfo,
    check_login,
    check_new_password,
    new_account_alias,
    utc_now,
)

TOKEN_MARKER = ".accessToken:"
_PARTNER_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-")
# Aliases are random; a collision is rare, so a few fresh draws always find a free one.
_ALIAS_ATTEMPTS = 16


@dataclass(frozen=True, slots=True)
class PasswordRecord:
    """An account's stored hash (a dummy one for an unknown login) as read for one check."""

    login: str
    account: Account | None
    stored_hash: str
    generation: int  # the verification cache's, when the hash was read


class AccountRows(StoreCore):
    """Store's accounts, passwords and tokens."""

    def add_account(self, login: str, password: str, *, first: bool = False) -> Account:
        """A new account; with `first`, only while there is no account at all (the web app's
        first run), checked in the same statement so two first runs cannot both win."""
        check_login(login)
        password_hash = self._hasher.hash(check_new_password(password))
        created = utc_now()
        for _ in range(_ALIAS_ATTEMPTS):
            alias = new_account_alias()
            try:
                with self._transaction() as db:
                    cursor = db.execute(
                        "INSERT INTO accounts (login, login_key, password_hash, created, alias)"
                        " SELECT ?, ?, ?, ?, ? WHERE NOT ? OR NOT EXISTS (SELECT 1 FROM accounts)",
                        (login, login.casefold(), password_hash, created.isoformat(), alias, first),
                    )
            except sqlite3.IntegrityError as error:
                if "accounts.alias" in str(error):
                    continue
                raise UserError(f"an account named {login!r} already exists") from None
            if cursor.rowcount == 0:
                raise UserError("an account exists already: sign in with it")
            assert cursor.lastrowid is not None
            return Account(id=cursor.lastrowid, login=login, created=created, alias=alias)
        raise UserError("could not find a free account alias")

    def list_accounts(self) -> list[Account]:
        rows = self._query(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id")
        return [account_from_row(row) for row in rows]

    def verify_password(self, login: str, password: str) -> Account | None:
        """The account when the password is right; None otherwise. An unknown login costs one
        scrypt too, so response times do not reveal which logins exist."""
        return self.cached_password(login, password) or self.check_password(
            self.password_record(login), password
        )

    def cached_password(self, login: str, password: str) -> Account | None:
        """The account when this password verified recently: no scrypt, microseconds."""
        record = self.password_record(login)
        if record.account is None or not self._cache.hit(login, password, record.stored_hash):
            return None
        return record.account

    def cached_camera_login(
        self, login: str, password: str, *, mac: str | None, alias: str | None
    ) -> tuple[Account, Camera | None] | None:
        """A camera login's reads in one call, when its password verified recently: the account
        and the camera the login names (None: none known). None when the password is not
        cached (check it with verify_password, then read the camera)."""
        account = self.cached_password(login, password)
        if account is None:
            return None
        return account, self.find_camera(mac=mac, alias=alias)

    def password_fingerprint(self, login: str, password: str) -> bytes:
        return self._cache.fingerprint(login, password)

    def password_record(self, login: str) -> PasswordRecord:
        """What check_password needs; read first, so the slow check can run off this thread."""
        generation = self._cache.generation
        rows = self._query(
            f"SELECT {ACCOUNT_COLUMNS}, password_hash FROM accounts WHERE login_key = ?",
            (login.casefold(),),
        )
        if not rows:
            return PasswordRecord(login, None, self._dummy_hash, generation)
        return PasswordRecord(login, account_from_row(rows[0][:4]), rows[0][4], generation)

    def check_password(self, record: PasswordRecord, password: str) -> Account | None:
        """scrypt against the record. Touches no database, so any thread may run it."""
        if record.account is not None and self._cache.hit(
            record.login, password, record.stored_hash
        ):
            return record.account  # verified meanwhile by a concurrent check
        if not self._hasher.verify(password, record.stored_hash) or record.account is None:
            return None
        self._cache.remember(
            record.login, password, stored_hash=record.stored_hash, generation=record.generation
        )
        return record.account

    def set_password(self, login: str, password: str) -> None:
        password_hash = self._hasher.hash(check_new_password(password))
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE accounts SET password_hash = ? WHERE login_key = ?",
                (password_hash, login.casefold()),
            ).rowcount
        self._cache.forget(login)
        if not changed:
            raise UserError(f"no account named {login!r}")

    def remove_account(self, login: str) -> None:
        """Delete the account and its tokens. Its cameras stay known but become unowned
        (their history is kept; the next account a camera logs in with claims it)."""
        with self._transaction() as db:
            # Its cameras' aliases lose the owner prefix together with the owner.
            db.execute(
                "UPDATE cameras SET alias = mac WHERE owner_id ="
                " (SELECT id FROM accounts WHERE login_key = ?)",
                (login.casefold(),),
            )
            removed = db.execute(
                "DELETE FROM accounts WHERE login_key = ?", (login.casefold(),)
            ).rowcount
        self._cache.forget(login)
        if not removed:
            raise UserError(f"no account named {login!r}")

    # -- access tokens ----------------------------------------------------------------------------

    def issue_token(self, login: str, partner: str = "myQ") -> str:
        """A new access token in the form Tend clients send as CX_PASSWD:
        '<partner>.accessToken:<token>'. Only a hash is kept; this is the one time it is seen."""
        if not partner or len(partner) > 64 or not set(partner) <= _PARTNER_CHARACTERS:
            raise UserError("a partner name has 1 to 64 letters, digits, '_' or '-'")
        account = self._require_account(login)
        token = secrets.token_urlsafe(32)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO tokens (account_id, partner, token_hash, created) VALUES (?, ?, ?, ?)",
                (account.id, partner, hash_token(token), utc_now().isoformat()),
            )
        return f"{partner}{TOKEN_MARKER}{token}"

    def account_for_token(self, token: str) -> Account | None:
        """The account owning this token, given bare or in its full CX_PASSWD form. Found by
        the token's hash alone: a login without a user name (how the myQ app logs in)."""
        _, marker, bare = token.partition(TOKEN_MARKER)
        wanted = hash_token(bare if marker else token)
        rows = self._query(
            "SELECT t.token_hash, a.id, a.login, a.created, a.alias"
            " FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?",
            (wanted,),
        )
        # Security consideration: the index finds the row; the final comparison is still made
        # in constant time so nothing about stored hashes leaks through timing.
        if not rows or not hmac.compare_digest(rows[0][0], wanted):
            return None
        return account_from_row(rows[0][1:])

    def verify_token(self, login: str, token: str) -> Account | None:
        """The account when the token (bare, or in its full CX_PASSWD form) is one of its own."""
        account = self.account_for_token(token)
        if account is None or account.login.casefold() != login.casefold():
            return None
        return account

    def list_tokens(self, login: str) -> list[TokenInfo]:
        account = self._require_account(login)
        rows = self._query(
            "SELECT id, partner, created FROM tokens WHERE account_id = ? ORDER BY id",
            (account.id,),
        )
        return [
            TokenInfo(id=row[0], login=account.login, partner=row[1], created=parse_time(row[2]))
            for row in rows
        ]

    def revoke_token(self, login: str, token_id: int) -> bool:
        """Revoke one of the account's tokens; False when it has no token with that id."""
        account = self._require_account(login)
        with self._transaction() as db:
            return bool(
                db.execute(
                    "DELETE FROM tokens WHERE id = ? AND account_id = ?", (token_id, account.id)
                ).rowcount
            )

    def revoke_tokens(self, login: str) -> int:
        account = self._require_account(login)
        with self._transaction() as db:
            return db.execute("DELETE FROM tokens WHERE account_id = ?", (account.id,)).rowcount


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
