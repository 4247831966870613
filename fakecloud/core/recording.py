"""What parts need of the capture log, so they can record without depending on its module."""

from __future__ import annotations

from typing import Any, Protocol


class Recorder(Protocol):
    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        """Append one event: kind ('connection', 'frame', 'login', 'http', 'dns', ...), raw bytes
        (stored as hex) and JSON-ready fields such as peer, local_port, tls, sni, direction,
        connection, decoded."""
