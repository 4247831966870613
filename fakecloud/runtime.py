"""Everything a running fakecloud shares: settings, catalogue, services and the parts that serve."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fakecloud.broker.broker import Broker
from fakecloud.capture.log import CaptureLog
from fakecloud.catalogue import Catalogue
from fakecloud.certs import CertificateAuthority
from fakecloud.core.config import Settings
from fakecloud.core.events import EventBus
from fakecloud.core.parts import Part
from fakecloud.frontdoor.budgets import ConnectionBudget
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs import MediaOutputs
from fakecloud.relay.part import RelayPart
from fakecloud.store.protocol import CameraStore
from fakecloud.web.routes_unknown import RecordBudget


@dataclass
class Services:
    """What parts and the web app share, by name. `fakecloud.server.build_runtime` fills in
    every one; a web app built alone (in tests) runs without some parts, so those are None and
    the routes that need one answer 503 (fakecloud.web.deps)."""

    # The one event bus every publishing and subscribing part is built with.
    bus: EventBus = field(default_factory=EventBus)
    # How many unknown HTTP requests may reach the capture log (fakecloud.web.routes_unknown).
    http_capture_budget: RecordBudget = field(default_factory=RecordBudget)
    store: CameraStore | None = None
    capture: CaptureLog | None = None
    authority: CertificateAuthority | None = None
    broker: Broker | None = None
    relay: RelayPart | None = None
    media_hub: MediaHub | None = None
    media_outputs: MediaOutputs | None = None
    # One budget for every TCP listener (fakecloud.frontdoor.budgets).
    connection_budget: ConnectionBudget | None = None
    # Browser and portal sign-ins by result, ok or refused (fakecloud_logins_total, kind rest).
    web_logins: Counter[str] = field(default_factory=Counter)


@dataclass
class Runtime:
    settings: Settings
    catalogue: Catalogue
    parts: list[Part] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    services: Services = field(default_factory=Services)

    def part(self, name: str) -> Part | None:
        return next((part for part in self.parts if part.name == name), None)

    def status(self) -> dict[str, Any]:
        return {
            "version": _version(),
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "announce_address": self.settings.effective_announce_address,
            "parts": {part.name: part.status() for part in self.parts},
            "events": self.services.bus.status(),
        }


def _version() -> str:
    from fakecloud import __version__

    return __version__
