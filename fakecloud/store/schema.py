"""The database schema as an ordered list of migration steps, tracked by PRAGMA user_version.

Step i (counting from 1) turns a version i-1 database into version i. Steps are only ever
appended: a released step is never edited, so every existing database can be brought forward.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from fakecloud.core.errors import UserError
from fakecloud.store.models import new_account_alias

# A step is SQL, or a function for what SQL cannot do well (random values that must be unique).
Migration = str | Callable[[sqlite3.Connection], None]


def _give_accounts_aliases(connection: sqlite3.Connection) -> None:
    """Step 3: every account gets its random alias; cameras get the alias form derived from it
    (`<account alias>:<MAC>`, the bare MAC while unowned), and what the old `alias` column held
    moves to `reported_alias` unless it was the made-up default ('oc9:' + the bare MAC)."""
    for statement in (
        "ALTER TABLE accounts ADD COLUMN alias TEXT",
        "ALTER TABLE cameras ADD COLUMN reported_alias TEXT",
        "UPDATE cameras SET reported_alias = NULLIF(alias, 'oc9:' || replace(mac, ':', ''))",
    ):
        connection.execute(statement)
    taken: set[str] = set()
    for (account_id,) in connection.execute("SELECT id FROM accounts").fetchall():
        alias = new_account_alias()
        while alias in taken:
            alias = new_account_alias()
        taken.add(alias)
        connection.execute("UPDATE accounts SET alias = ? WHERE id = ?", (alias, account_id))
    for statement in (
        "CREATE UNIQUE INDEX accounts_alias ON accounts(alias)",
        "CREATE INDEX cameras_reported_alias ON cameras(reported_alias)",
        "UPDATE cameras SET alias = COALESCE("
        "(SELECT a.alias FROM accounts a WHERE a.id = cameras.owner_id) || ':' || mac, mac)",
    ):
        connection.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    # 1: accounts, tokens, cameras, session log, events
    """
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        login TEXT NOT NULL,
        login_key TEXT NOT NULL UNIQUE,  -- login.casefold(): logins are case-insensitive
        password_hash TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        partner TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL
    );
    CREATE TABLE cameras (
        id INTEGER PRIMARY KEY,
        alias TEXT NOT NULL,
        mac TEXT NOT NULL UNIQUE,
        p2p_key TEXT NOT NULL,
        owner_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
        name TEXT,
        settings TEXT NOT NULL DEFAULT '{}',
        online INTEGER NOT NULL DEFAULT 0,
        first_seen TEXT,
        last_seen TEXT,
        last_ip TEXT,
        firmware TEXT,
        properties TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE INDEX cameras_alias ON cameras(alias);
    CREATE INDEX cameras_owner ON cameras(owner_id);
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        camera_id INTEGER REFERENCES cameras(id) ON DELETE SET NULL,
        login TEXT,
        role TEXT NOT NULL,
        peer TEXT NOT NULL,
        event TEXT NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        camera_id INTEGER REFERENCES cameras(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    """,
    # 2: per-camera reads of the logs and the lookup of a silent device by address
    """
    CREATE INDEX events_camera ON events(camera_id, id);
    CREATE INDEX sessions_camera ON sessions(camera_id, id);
    CREATE INDEX cameras_last_ip ON cameras(last_ip);
    """,
    # 3: per-account aliases and the camera aliases made from them
    _give_accounts_aliases,
    # 4: pairing. A camera without an owner is pending; identity_hash is the hash of the secret
    # its login carried when first bound; accepts_unproven marks one the owner paired although
    # its login proves nothing. A pairing window lets the next unknown cameras join an account.
    """
    ALTER TABLE cameras ADD COLUMN identity_hash TEXT;
    ALTER TABLE cameras ADD COLUMN accepts_unproven INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX cameras_pending ON cameras(online, last_seen) WHERE owner_id IS NULL;
    CREATE TABLE pairing_windows (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        opened TEXT NOT NULL,
        expires TEXT NOT NULL
    );
    """,
    # 5: the web app's sign-in sessions, kept by the hash of their cookie so a restart keeps
    # people signed in and a copy of the database holds no usable cookie
    """
    CREATE TABLE web_sessions (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        expires TEXT NOT NULL
    );
    CREATE INDEX web_sessions_account ON web_sessions(account_id, id);
    CREATE INDEX web_sessions_expires ON web_sessions(expires);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the missing steps, each in its own transaction together with its version number,
    so a crash mid-upgrade leaves the database at the last completed version. The connection
    must be in autocommit mode (isolation_level=None). Returns the version reached."""
    current = schema_version(connection)
    if current > len(migrations):
        # Security consideration: never write to a database made by a newer fakecloud; an old
        # program could corrupt data it does not understand.
        raise UserError(
            f"the database is at schema version {current}, newer than this fakecloud "
            f"understands ({len(migrations)}); upgrade fakecloud"
        )
    for version, step in enumerate(migrations[current:], start=current + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(step, str):
                for statement in _statements(step):
                    connection.execute(statement)
            else:
                step(connection)
            connection.execute(f"PRAGMA user_version = {version:d}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    return schema_version(connection)


def _statements(script: str) -> list[str]:
    """Split a step into statements (executescript would commit on its own)."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):  # false while a ';' sits inside a quote
            if pending.strip(" \t\n;"):
                statements.append(pending.strip())
            pending = ""
    return statements
