"""The capture log of traffic fakecloud does not understand yet: record, list, redact, replay."""

from fakecloud.capture.log import CURRENT_FILE, CaptureLog
from fakecloud.capture.records import (
    CaptureFormatError,
    capture_files,
    decode_record,
    read_records,
)
from fakecloud.capture.redact import learn_secrets, redact_record, redact_records
from fakecloud.capture.replay import recorded_connections, replay_connection

__all__ = [
    "CURRENT_FILE",
    "CaptureFormatError",
    "CaptureLog",
    "capture_files",
    "decode_record",
    "learn_secrets",
    "read_records",
    "recorded_connections",
    "redact_record",
    "redact_records",
    "replay_connection",
]
