"""What a webhook says: the JSON body for a camera event and the headers that sign it.

Pure: no I/O, no clock of its own (the caller passes the time), so receivers' checks can be
tested byte for byte.

Signature (docs/webhooks.md): `X-Fakecloud-Signature: sha256=<hex>`, the HMAC-SHA256 under the
configured secret of `<X-Fakecloud-Timestamp>.<body>`. The timestamp is inside what is signed,
so a receiver that refuses old timestamps also refuses a replayed delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fakecloud.core.events import (
    CameraEvent,
    CameraOffline,
    CameraOnline,
    Motion,
    RecordingFinished,
    RefusedLogin,
)

SIGNATURE_HEADER = "X-Fakecloud-Signature"
TIMESTAMP_HEADER = "X-Fakecloud-Timestamp"
EVENT_HEADER = "X-Fakecloud-Event"
DELIVERY_HEADER = "X-Fakecloud-Delivery"
# The event kinds a webhook can carry, in the order docs/webhooks.md lists them.
EVENT_NAMES = (
    "camera.online",
    "camera.offline",
    "motion.start",
    "motion.end",
    "recording.finished",
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for every endpoint: its name, id and JSON body."""

    event: str
    delivery_id: str
    body: bytes


def event_name(event: CameraEvent) -> str | None:
    """The webhook name of a bus event, or None for events webhooks do not carry."""
    if isinstance(event, CameraOnline):
        return "camera.online"
    if isinstance(event, CameraOffline):
        return "camera.offline"
    if isinstance(event, Motion):
        # A detector says where an event starts and ends; one that says neither starts one.
        return "motion.end" if event.detail.get("state") == "end" else "motion.start"
    if isinstance(event, RecordingFinished):
        return "recording.finished"
    return None


def event_fields(event: CameraEvent) -> dict[str, Any]:
    """What the event says beyond its kind and camera."""
    if isinstance(event, CameraOnline):
        return {"address": event.address, "owner": event.owner}
    if isinstance(event, CameraOffline):
        return {"reason": event.reason}
    if isinstance(event, Motion):
        return {"detail": event.detail}
    if isinstance(event, RecordingFinished):
        return {"path": event.path, "seconds": event.seconds}
    return {}


def delivery_for(event: CameraEvent, delivery_id: str, now: datetime) -> Delivery | None:
    """The delivery of a bus event (None: webhooks do not carry it)."""
    name = event_name(event)
    if name is None or isinstance(event, RefusedLogin):  # (RefusedLogin has no camera)
        return None
    document = {
        "event": name,
        "delivery": delivery_id,
        "time": now.astimezone(UTC).isoformat(timespec="milliseconds"),
        "camera_id": event.camera_id,
        **event_fields(event),
    }
    return Delivery(name, delivery_id, strict_json(document))


def strict_json(document: dict[str, Any]) -> bytes:
    """JSON any receiver parses: values JSON has no type for (a detector's detail may hold
    anything) as strings, and so are NaN and the infinities, which strict parsers refuse."""
    return json.dumps(
        _finite(document), separators=(",", ":"), default=str, allow_nan=False
    ).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(inner) for inner in value]
    return value


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of `<timestamp>.<body>` under the secret."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def headers_for(delivery: Delivery, timestamp: int, secret: bytes | None) -> dict[str, str]:
    """The request headers of one attempt (the timestamp is the attempt's, not the event's)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "fakecloud-webhooks",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: delivery.delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, delivery.body)
    return headers
