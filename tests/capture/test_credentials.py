"""Credentials never reach a capture file: they are blanked in the record path itself."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakecloud.capture import CaptureLog, read_records
from fakecloud.capture.credentials import remove_credentials
from fakecloud.capture.records import record_data

# Letters only, at least 8: a planted secret cannot turn up by chance in a timestamp or hex.
secrets_text = st.text(alphabet=string.ascii_letters, min_size=8, max_size=24)
# How a secret is introduced, and what may end it (a line, a query field, a NUL, a quote).
SECRET_FORMS = [
    ("CX_PASSWD=", ["\r\n", "\n", "&", "\0", ""]),
    ("CX_PASSWD=myQ.accessToken:", ["\n", ""]),
    ("password=", ["&", "\n"]),
    ("Authorization: Basic ", ["\r\n"]),
    ('"password": "', ['"']),
    ("token=", ["&", "\n"]),
    ("Cookie: session=", ["\r\n"]),
    ("x_pwd:", ["\n"]),
]
forms = st.sampled_from(SECRET_FORMS).flatmap(
    lambda form: st.tuples(st.just(form[0]), st.sampled_from(form[1]))
)


def written_records(directory: Path) -> list[dict[str, Any]]:
    return list(read_records(directory / "capture.jsonl"))


def leaks(records: list[dict[str, Any]], secret: str) -> bool:
    """Whether the secret shows anywhere: in any field, or in the raw bytes (as UTF-8)."""
    for record in records:
        data = record_data(record)
        if data is not None and secret.encode() in data:
            return True
        shown = [value for key, value in record.items() if key != "hex"]
        # Values only: a short secret may be part of a field name ("credentials_removed").
        if any(secret in text for text in strings_in(shown)):
            return True
    return False


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif value is not None:
        yield json.dumps(value)


def new_log(tmp_path_factory: Any) -> tuple[CaptureLog, Path]:
    directory = tmp_path_factory.mktemp("captures")
    return CaptureLog(directory, max_bytes=1 << 20), directory


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.binary(max_size=64),
    suffix=st.binary(max_size=64),
    form=forms,
    secret=secrets_text,
    split=st.booleans(),
)
def test_a_secret_in_raw_bytes_never_reaches_the_file(
    tmp_path_factory: Any,
    prefix: bytes,
    suffix: bytes,
    form: tuple[str, str],
    secret: str,
    split: bool,
) -> None:
    key, end = form
    planted = prefix + (key + secret + end).encode() + suffix
    log, directory = new_log(tmp_path_factory)
    # Some callers pass the raw bytes, others a decoded view, others both.
    fields = {"peer": "127.0.0.1:5555", "text": planted.decode("latin-1")} if split else {}
    log.record("frame", data=planted, **fields)
    log.close()
    [record] = written_records(directory)
    assert not leaks([record], secret)
    assert record["credentials_removed"] is True
    # The raw bytes keep their length, so a frame's own length fields still match.
    data = record_data(record)
    assert data is not None and len(data) == len(planted)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    noise=st.text(max_size=40),
    key=st.sampled_from(["CX_PASSWD", "password", "Authorization", "access_token", "secret"]),
    secret=secrets_text,
    where=st.sampled_from(["field", "nested", "list", "bytes", "number"]),
    repeat=st.booleans(),
)
def test_a_secret_in_fields_never_reaches_the_file(
    tmp_path_factory: Any, noise: str, key: str, secret: str, where: str, repeat: bool
) -> None:
    fields: dict[str, Any] = {"peer": "127.0.0.1:1", "note": noise}
    value: Any = secret.encode() if where == "bytes" else secret
    if where == "field":
        fields[key] = value
    elif where == "nested":
        fields["decoded"] = {"CX_UNAME": "alice", key: value, "more": {"x": [noise]}}
    elif where == "list":
        fields["decoded"] = [{key: value}, noise]
    elif where == "bytes":
        fields["decoded"] = {key: value}
    else:
        fields["decoded"] = {"weird": f"{noise}{key}={secret}\n{noise}"}
    if repeat:
        # Named once, the same secret is blanked wherever else it turns up in the record.
        fields["echo"] = f"{noise}{secret}{noise}"
    log, directory = new_log(tmp_path_factory)
    log.record("login", data=f"{noise} then {secret}".encode() if repeat else None, **fields)
    log.close()
    records = written_records(directory)
    assert not leaks(records, secret)
    assert records[0]["note"] == noise or secret in noise  # other fields stay readable


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.dictionaries(st.text(max_size=8), st.text(max_size=16)))
def test_arbitrary_input_is_accepted_and_keeps_its_length(
    data: bytes, fields: dict[str, str]
) -> None:
    cleaned, cleaned_data, _ = remove_credentials(fields, data)
    assert cleaned_data is not None and len(cleaned_data) == len(data)
    assert len(cleaned) == len(fields)


def test_an_unparseable_cxnet_login_keeps_everything_but_the_password(tmp_path: Path) -> None:
    login = b"\x00\x00\x01\x07CX_UNAME=cam\nCX_PASSWD=hunter2-long\nCX_MAC=94103E000001\n\xff"
    log = CaptureLog(tmp_path, max_bytes=1 << 20)
    log.record(
        "connection",
        data=login,
        peer="192.168.1.77:40000",
        decoded={"CX_UNAME": "cam", "CX_PASSWD": "hunter2-long"},
        problem="cannot parse CX_PASSWD=hunter2-long",
    )
    log.close()
    [record] = written_records(tmp_path)
    data = record_data(record)
    assert data == login.replace(b"hunter2-long", b"*" * 12)
    assert record["decoded"] == {"CX_UNAME": "cam", "CX_PASSWD": "*" * 12}
    assert record["problem"] == "cannot parse CX_PASSWD=" + "*" * 12
    assert record["peer"] == "192.168.1.77:40000" and b"94103E000001" in data


def test_http_basic_and_a_token_login_are_blanked(tmp_path: Path) -> None:
    request = (
        b"GET /api/cameras HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n"
        b"Cookie: fakecloud_session=abcdef123456\r\n\r\n"
    )
    log = CaptureLog(tmp_path, max_bytes=1 << 20)
    log.record("http", data=request, headers={"authorization": "Basic YWxpY2U6c2VjcmV0"})
    log.record("frame", data=b"CX_UNAME=\nCX_PASSWD=myQ.accessToken:0123456789abcdef\n")
    log.record("frame", data=b"nothing secret here", peer="p")
    log.close()
    first, second, third = written_records(tmp_path)
    for record in (first, second):
        data = record_data(record)
        assert data is not None
        assert b"YWxpY2U6c2VjcmV0" not in data and b"0123456789abcdef" not in data
        assert record["credentials_removed"] is True
    assert b"abcdef123456" not in (record_data(first) or b"")
    assert first["headers"] == {"authorization": "*" * len("Basic YWxpY2U6c2VjcmV0")}
    assert "credentials_removed" not in third
    assert record_data(third) == b"nothing secret here"


def test_a_flood_of_credentials_in_one_record_blanks_the_rest(tmp_path: Path) -> None:
    data = b"password=ab&" * 300 + b"token=SECRETVALUE\nplain tail"
    log = CaptureLog(tmp_path, max_bytes=1 << 20)
    log.record("frame", data=data)
    log.close()
    [record] = written_records(tmp_path)
    cleaned = record_data(record)
    assert cleaned is not None and len(cleaned) == len(data)
    assert b"SECRETVALUE" not in cleaned and cleaned.endswith(b"*" * len(b"plain tail"))
