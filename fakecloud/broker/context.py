"""What every part of the broker shares: settings, the store, the bus, capture and counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from fakecloud.broker.recording import BrokerRecording
from fakecloud.core.config import Settings
from fakecloud.core.events import EventBus
from fakecloud.store.protocol import CameraStore


def new_counters() -> dict[str, int]:
    """The broker's counters, as /api/status shows them."""
    return {
        "logins_ok": 0,
        "logins_failed": 0,
        "logins_limited": 0,
        "redirects": 0,
        "commands_routed": 0,
        "malformed_frames": 0,
        "frames_dropped": 0,
    }


@dataclass(slots=True)
class BrokerContext:
    """One per broker; `settings` may be replaced while it runs (Broker.settings)."""

    settings: Settings
    store: CameraStore
    bus: EventBus
    recording: BrokerRecording
    counters: dict[str, int] = field(default_factory=new_counters)
    # Logins by (role, result: ok | refused | limited), for fakecloud_logins_total.
    logins: Counter[tuple[str, str]] = field(default_factory=Counter)
