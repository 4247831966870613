"""The database schema as an ordered list of migration steps, tracked by PRAGMA user_version.

Step i (counting from 1) turns a version i-1 database into version i. Steps are only ever
appended: a released step is never edited, so every existing database can be brought forward.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from fakecloud.core.errors import UserError

MIGRATIONS: tuple[str, ...] = (
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
)

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
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
            for statement in _statements(step):
                connection.execute(statement)
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
