"""What happens over time: camera presence, batched writes, the session log and events."""

from __future__ import annotations

import sqlite3
from typing import Any

from fakecloud.core.errors import UserError
from fakecloud.store.batch import PresenceWrite, SessionRow, WriteBatch
from fakecloud.store.core import StoreCore, parse_time
from fakecloud.store.models import (
    MAX_PENDING_REPORT_BYTES,
    Event,
    SessionEntry,
    bounded_report_as_json,
    decode_json_object,
    report_as_json,
    utc_now,
)

# One camera's presence; None leaves a field (online too: a keepalive only moves last_seen).
_WRITE_PRESENCE = (
    "UPDATE cameras SET online = COALESCE(?, online), last_seen = ?,"
    " first_seen = COALESCE(first_seen, ?), last_ip = COALESCE(?, last_ip),"
    " firmware = COALESCE(?, firmware), properties = COALESCE("
    "CASE WHEN owner_id IS NULL THEN ? ELSE ? END, properties) WHERE id = ?"
)
_INSERT_SESSION = (
    "INSERT INTO sessions (time, camera_id, login, role, peer, event)"
    " VALUES (?, (SELECT id FROM cameras WHERE id = ?), ?, ?, ?, ?)"
)


class ActivityRows(StoreCore):
    """Store's presence writes, write batches, session log and events."""

    def set_camera_presence(
        self,
        camera_id: int,
        online: bool,
        ip: str | None = None,
        firmware: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        now = utc_now().isoformat()
        write = PresenceWrite(camera_id, now, now, online, ip, firmware, properties)
        with self._transaction() as db:
            changed = _write_presence(db, write)
        if not changed:
            raise UserError(f"no camera {camera_id}")

    def mark_all_offline(self) -> int:
        """At server start nobody is connected yet, whatever the last run left behind."""
        with self._transaction() as db:
            return db.execute("UPDATE cameras SET online = 0 WHERE online != 0").rowcount

    def log_session(
        self, camera_id: int | None, login: str | None, role: str, peer: str, event: str
    ) -> None:
        row = SessionRow(utc_now().isoformat(), camera_id, login, role, peer, event)
        with self._transaction() as db:
            self._insert_sessions(db, [row])

    def write_batch(self, batch: WriteBatch) -> None:
        """Everything in the batch in one transaction: all of it, or (on an error, which is
        raised) none of it. A camera forgotten meanwhile simply gets no presence."""
        with self._transaction() as db:
            for write in batch.presence.values():
                _write_presence(db, write)
            self._insert_sessions(db, batch.sessions)
        self.counters["batches"] += 1
        self.counters["batched_writes"] += len(batch)

    def _insert_sessions(self, db: sqlite3.Connection, rows: list[SessionRow]) -> None:
        db.executemany(
            _INSERT_SESSION,
            [(row.time, row.camera_id, row.login, row.role, row.peer, row.event) for row in rows],
        )
        self._prune(db, "sessions", len(rows))

    def list_sessions(self, camera_id: int | None = None, limit: int = 100) -> list[SessionEntry]:
        """Newest first."""
        where, parameters = _camera_filter(camera_id)
        rows = self._query(
            f"SELECT id, time, camera_id, login, role, peer, event FROM sessions {where}"
            " ORDER BY id DESC LIMIT ?",
            (*parameters, limit),
        )
        return [
            SessionEntry(row[0], parse_time(row[1]), row[2], row[3], row[4], row[5], row[6])
            for row in rows
        ]

    def forget_sessions(self, login: str, camera_ids: list[int]) -> int:
        """Delete the session log lines of one login and of these cameras (`demo clean`)."""
        marks = ",".join("?" * len(camera_ids))
        with self._transaction() as db:
            return db.execute(
                f"DELETE FROM sessions WHERE login = ? COLLATE NOCASE OR camera_id IN ({marks})",
                (login, *camera_ids),
            ).rowcount

    def add_event(self, camera_id: int | None, kind: str, data: dict[str, Any]) -> Event:
        data_text = report_as_json(data)
        now = utc_now()
        try:
            with self._transaction() as db:
                cursor = db.execute(
                    "INSERT INTO events (time, camera_id, kind, data) VALUES (?, ?, ?, ?)",
                    (now.isoformat(), camera_id, kind, data_text),
                )
                self._prune(db, "events", 1)
        except sqlite3.IntegrityError:
            raise UserError(f"no camera {camera_id}") from None
        assert cursor.lastrowid is not None
        return Event(cursor.lastrowid, camera_id, now, kind, decode_json_object(data_text))

    def list_events(self, camera_id: int | None = None, limit: int = 100) -> list[Event]:
        """Newest first."""
        where, parameters = _camera_filter(camera_id)
        rows = self._query(
            f"SELECT id, camera_id, time, kind, data FROM events {where} ORDER BY id DESC LIMIT ?",
            (*parameters, limit),
        )
        return [
            Event(row[0], row[1], parse_time(row[2]), row[3], decode_json_object(row[4]))
            for row in rows
        ]


def _write_presence(db: sqlite3.Connection, write: PresenceWrite) -> bool:
    """Whether the camera exists. What a pending camera reported is kept bounded."""
    full = bounded = None
    if write.properties is not None:
        full = report_as_json(write.properties)
        bounded = bounded_report_as_json(write.properties, MAX_PENDING_REPORT_BYTES)
    online = None if write.online is None else int(write.online)
    parameters = (online, write.seen, write.first_seen, write.ip, write.firmware, bounded, full)
    return bool(db.execute(_WRITE_PRESENCE, (*parameters, write.camera_id)).rowcount)


def _camera_filter(camera_id: int | None) -> tuple[str, tuple[Any, ...]]:
    return ("", ()) if camera_id is None else ("WHERE camera_id = ?", (camera_id,))
