"""Writes that may wait a moment: presence, last_seen and session-log rows, grouped into one
transaction (group commit). Pure data: AsyncStore fills a WriteBatch on the event loop, the
store's thread commits it with Store.write_batch."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fakecloud.store.models import (
    MAX_PENDING_REPORT_BYTES,
    Camera,
    bounded_report_as_json,
    decode_json_object,
    report_as_json,
)


@dataclass(slots=True)
class PresenceWrite:
    """One camera's presence as it should be written. Times are ISO strings taken when the
    change happened, not when it is committed. `online` None: only seen (a keepalive)."""

    camera_id: int
    seen: str
    first_seen: str
    online: bool | None = None
    ip: str | None = None
    firmware: str | None = None
    properties: dict[str, Any] | None = None

    def merge(self, later: PresenceWrite) -> None:
        """Fold a later write for the same camera into this one: the result is what writing
        both, one after the other, would leave (None leaves a field as it was)."""
        self.seen = later.seen
        if later.online is not None:
            self.online = later.online
        self.ip = later.ip if later.ip is not None else self.ip
        self.firmware = later.firmware if later.firmware is not None else self.firmware
        if later.properties is not None:
            self.properties = later.properties

    def applied_to(self, camera: Camera) -> Camera:
        """The record as this write leaves it: what reading it back after the commit gives,
        without waiting for the commit. A pending camera's report is kept bounded."""
        properties = camera.properties
        if self.properties is not None:
            if camera.pending:
                text = bounded_report_as_json(self.properties, MAX_PENDING_REPORT_BYTES)
            else:
                text = report_as_json(self.properties)
            properties = decode_json_object(text)
        return replace(
            camera,
            online=camera.online if self.online is None else self.online,
            last_seen=datetime.fromisoformat(self.seen),
            first_seen=camera.first_seen or datetime.fromisoformat(self.first_seen),
            last_ip=camera.last_ip if self.ip is None else self.ip,
            firmware=camera.firmware if self.firmware is None else self.firmware,
            properties=properties,
        )


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One line of the session log."""

    time: str
    camera_id: int | None
    login: str | None
    role: str
    peer: str
    event: str


@dataclass(slots=True)
class WriteBatch:
    """What one transaction writes: the latest presence per camera, then the log rows."""

    presence: dict[int, PresenceWrite] = field(default_factory=dict)
    sessions: list[SessionRow] = field(default_factory=list)
    coalesced: int = 0  # writes folded into an earlier one of the same camera

    def add_presence(self, write: PresenceWrite) -> None:
        earlier = self.presence.get(write.camera_id)
        if earlier is None:
            self.presence[write.camera_id] = write
        else:
            earlier.merge(write)
            self.coalesced += 1

    def add_session(self, row: SessionRow) -> None:
        self.sessions.append(row)

    def __len__(self) -> int:
        return len(self.presence) + len(self.sessions)
