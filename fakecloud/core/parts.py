"""What `fakecloud serve` runs: a list of parts, each started, reported on and stopped alike."""

from __future__ import annotations

from typing import Any, Protocol


class Part(Protocol):
    """One running piece of the server (a listener or a background service)."""

    name: str

    async def start(self) -> None:
        """Bind and begin serving; raise UserError for a problem the user must fix."""

    async def stop(self) -> None:
        """Release every socket and task; safe to call after a failed start."""

    def status(self) -> dict[str, Any]:
        """JSON-ready facts for /api/status (addresses, counters)."""
        ...
