"""Everything a running fakecloud shares: settings, catalogue, services and the parts that serve."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fakecloud.catalogue import Catalogue
from fakecloud.core.config import Settings
from fakecloud.core.parts import Part


@dataclass
class Runtime:
    settings: Settings
    catalogue: Catalogue
    parts: list[Part] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    # Services, filled in by fakecloud.server.build_runtime as each exists.
    services: dict[str, Any] = field(default_factory=dict)

    def part(self, name: str) -> Part | None:
        return next((part for part in self.parts if part.name == name), None)

    def status(self) -> dict[str, Any]:
        return {
            "version": _version(),
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "announce_address": self.settings.effective_announce_address,
            "parts": {part.name: part.status() for part in self.parts},
        }


def _version() -> str:
    from fakecloud import __version__

    return __version__
