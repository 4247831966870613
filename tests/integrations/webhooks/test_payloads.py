"""What a webhook says, byte for byte, and that a receiver can check its signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.core.events import (
    CameraOffline,
    CameraOnline,
    Motion,
    RecordingFinished,
    StreamStarted,
)
from fakecloud.integrations.webhooks.payloads import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    delivery_for,
    headers_for,
)

NOW = datetime(2026, 12, 2, 14, 0, 0, tzinfo=UTC)
SECRET = b"shared with the receiver"


def receiver_accepts(headers: dict[str, str], body: bytes, secret: bytes) -> bool:
    """How docs/webhooks.md tells a receiver to check a delivery."""
    signed = headers[TIMESTAMP_HEADER].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers[SIGNATURE_HEADER])


def test_each_event_kind_has_its_name_and_fields() -> None:
    cases = [
        (CameraOnline(7, "alice", "127.0.0.9"), "camera.online", {"address": "127.0.0.9"}),
        (CameraOffline(7, "keepalive timeout"), "camera.offline", {"reason": "keepalive timeout"}),
        (
            Motion(7, {"state": "start", "score": 0.4}),
            "motion.start",
            {"detail": {"state": "start", "score": 0.4}},
        ),
        (Motion(7, {"state": "end"}), "motion.end", {}),
        (Motion(7), "motion.start", {"detail": {}}),
        (
            RecordingFinished(7, "/data/clips/7/a.mp4", 12.5),
            "recording.finished",
            {"seconds": 12.5},
        ),
    ]
    for event, name, fields in cases:
        delivery = delivery_for(event, "d1", NOW)
        assert delivery is not None and delivery.event == name
        document = json.loads(delivery.body)
        assert document["event"] == name and document["camera_id"] == 7
        assert document["time"] == "2026-12-02T14:00:00.000+00:00" and document["delivery"] == "d1"
        assert fields.items() <= document.items()


def test_events_webhooks_do_not_carry_make_no_delivery() -> None:
    assert delivery_for(StreamStarted(7), "d1", NOW) is None


def test_without_a_secret_there_is_no_signature() -> None:
    delivery = delivery_for(CameraOffline(7, "gone"), "d1", NOW)
    assert delivery is not None
    assert SIGNATURE_HEADER not in headers_for(delivery, 1_764_684_000, None)


@given(
    detail=st.dictionaries(st.text(max_size=12), st.one_of(st.text(), st.integers(), st.floats())),
    timestamp=st.integers(min_value=0, max_value=2**40),
    secret=st.binary(min_size=1, max_size=64),
)
def test_any_motion_detail_gives_json_that_verifies(
    detail: dict[str, object], timestamp: int, secret: bytes
) -> None:
    delivery = delivery_for(Motion(7, detail), "d1", NOW)
    assert delivery is not None

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    json.loads(delivery.body, parse_constant=refuse)  # strict JSON: no NaN or Infinity
    headers = headers_for(delivery, timestamp, secret)
    assert receiver_accepts(headers, delivery.body, secret)
    assert not receiver_accepts(headers, delivery.body + b" ", secret)
