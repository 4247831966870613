import json
import logging
import sys

import pytest

from fakecloud.core.logs import JsonFormatter, configure_logging


def test_json_lines_carry_the_message_and_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "fakecloud.broker", "levelname": "WARNING", "msg": "camera %s", "args": (7,)}
    )
    record.camera_id = 7
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "camera 7"
    assert entry["level"] == "warning" and entry["logger"] == "fakecloud.broker"
    assert entry["camera_id"] == 7
    assert "args" not in entry and "msg" not in entry


def test_an_exception_is_one_json_line() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: bad" in json.loads(line)["exception"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_configure_logging_replaces_handlers_and_quiets_access_lines(log_format: str) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(log_format, "debug")
        assert len(root.handlers) == 1 and root.level == logging.DEBUG
        assert isinstance(root.handlers[0].formatter, JsonFormatter) == (log_format == "json")
        assert logging.getLogger("uvicorn.access").level == logging.WARNING
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
