"""The web app's sign-in sessions: a random cookie for the browser, only its hash kept here."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from fakecloud.store.accounts import hash_token
from fakecloud.store.core import ACCOUNT_COLUMNS, StoreCore, account_from_row
from fakecloud.store.models import Account, utc_now

# Security consideration: only someone who knows the password makes sessions, but a script
# signing in in a loop must not grow the table: each account keeps its newest ones.
MAX_SESSIONS_PER_ACCOUNT = 50
_ACCOUNT_FIELDS = ", ".join(f"a.{column.strip()}" for column in ACCOUNT_COLUMNS.split(","))


def _stamp(seconds_from_now: float = 0.0) -> str:
    # One fixed format, so times compare as text in SQL.
    moment = utc_now() + timedelta(seconds=seconds_from_now)
    return moment.isoformat(timespec="microseconds")


class WebSessionRows(StoreCore):
    """Store's web sessions (table web_sessions, schema step 5)."""

    def start_web_session(self, login: str, lifetime: float) -> str:
        """A new session for the account, valid `lifetime` seconds; the cookie value, seen once.
        Expired sessions and the account's oldest beyond the cap go in the same transaction."""
        account = self._require_account(login)
        token = secrets.token_urlsafe(32)
        with self._transaction() as db:
            db.execute("DELETE FROM web_sessions WHERE expires <= ?", (_stamp(),))
            db.execute(
                "INSERT INTO web_sessions (account_id, token_hash, created, expires)"
                " VALUES (?, ?, ?, ?)",
                (account.id, hash_token(token), _stamp(), _stamp(lifetime)),
            )
            db.execute(
                "DELETE FROM web_sessions WHERE account_id = ?1 AND id NOT IN"
                " (SELECT id FROM web_sessions WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2)",
                (account.id, MAX_SESSIONS_PER_ACCOUNT),
            )
        return token

    def web_session_account(self, token: str) -> Account | None:
        """The account a session cookie signs in, while the session lasts."""
        wanted = hash_token(token)
        rows = self._query(
            f"SELECT s.token_hash, {_ACCOUNT_FIELDS} FROM web_sessions s"
            " JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ? AND s.expires > ?",
            (wanted, _stamp()),
        )
        # Security consideration: found by index, compared in constant time (as tokens are).
        if not rows or not hmac.compare_digest(rows[0][0], wanted):
            return None
        return account_from_row(rows[0][1:])

    def end_web_session(self, token: str) -> bool:
        with self._transaction() as db:
            deleted = db.execute(
                "DELETE FROM web_sessions WHERE token_hash = ?", (hash_token(token),)
            ).rowcount
        return bool(deleted)

    def end_web_sessions(self, login: str, *, keep: str | None = None) -> int:
        """Sign the account out everywhere (a changed password), except the session `keep`."""
        account = self._require_account(login)
        kept = hash_token(keep) if keep else ""
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM web_sessions WHERE account_id = ? AND token_hash != ?",
                (account.id, kept),
            ).rowcount
