"""Redaction: no secret that a capture names (or any MAC) survives an export."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fakecloud.capture.redact import (
    Category,
    classify_key,
    learn_secrets,
    redact_record,
    redact_records,
)

# Passwords may hold spaces and punctuation; they end where a line, a query field or a JSON
# string ends, so those delimiters (& " \ newline) are left out.
password_text = st.text(
    alphabet=string.ascii_letters + string.digits + " !#$%()*+,-./;<>?@[]^_{}~äéß",
    min_size=8,
    max_size=24,
).filter(lambda text: text.strip() == text)
word_text = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=8, max_size=43)
macs = st.lists(st.integers(0, 255), min_size=6, max_size=6)
MAC_SPELLINGS = (":", "-", "")
PSEUDONYM_WORDS = "PASSWORD- TOKEN- P2PKEY- MAC- accessToken myQ CX_PASSWD CX_UNAME password"


def mac_forms(octets: list[int]) -> list[str]:
    forms = []
    for separator in MAC_SPELLINGS:
        joined = separator.join(f"{octet:02x}" for octet in octets)
        forms += [joined, joined.upper()]
    return forms


def every_text(records: list[dict[str, Any]]) -> str:
    """Everything an export shows, raw bytes included (read as latin-1, as a viewer would)."""
    shown = [json.dumps(records, ensure_ascii=False)]
    for record in records:
        if "hex" in record:
            raw = bytes.fromhex(record["hex"])
            shown += [raw.decode("latin-1"), raw.decode("utf-8", "replace")]
    return "\n".join(shown)


@settings(max_examples=150, deadline=None)
@given(password_text, word_text, word_text, macs, st.binary(max_size=8))
def test_no_secret_survives(
    password: str, token: str, p2p_key: str, octets: list[int], binary_prefix: bytes
) -> None:
    for secret in (password, token, p2p_key):
        assume(all(secret.casefold() not in word.casefold() for word in PSEUDONYM_WORDS.split()))
        assume(secret not in "127.0.0.1:5104 login connection frame note in c1 c2 c3 c4 bob")
    assume(len({password, token, p2p_key}) == 3)
    mac_colon = ":".join(f"{octet:02X}" for octet in octets)
    mac_bare = mac_colon.replace(":", "").lower()
    properties = f"CX_UNAME=bob\nCX_PASSWD={password}\nmac={mac_bare}\n"
    records = [
        {"kind": "login", "connection": "c1", "decoded": {"CX_PASSWD": password, "mac": mac_colon}},
        {
            "kind": "connection",
            "connection": "c2",
            "hex": (binary_prefix + properties.encode("utf-8")).hex(),
        },
        {
            "kind": "login",
            "connection": "c3",
            "decoded": {"CX_PASSWD": f"myQ.accessToken:{token}", "CX_UNAME": "bob"},
        },
        {
            "kind": "note",
            "note": f"the token {token} again, from {mac_colon.lower()}",
            "body": json.dumps({"password": password}),
            "query": f"GET /login?user=bob&passwd={password}&x=1 HTTP/1.1",
            "device-info-list": f"1:{mac_colon},MAC={mac_colon}+AES={p2p_key}+LIP=127.0.0.1",
        },
        {"kind": "connection", "connection": "c4", "hex": password.encode("utf-8").hex()},
    ]
    redacted = redact_records(records)
    shown = every_text(redacted)
    for secret in (password, token, p2p_key, *mac_forms(octets)):
        assert secret not in shown
    assert redacted[0]["decoded"] == {"CX_PASSWD": "PASSWORD-1", "mac": "MAC-1"}
    assert redacted[0]["connection"] == "c1" and redacted[0]["kind"] == "login"


@given(st.lists(st.dictionaries(st.text(max_size=8), st.text(max_size=30), max_size=4), max_size=4))
def test_arbitrary_records_are_redacted_without_errors(fields: list[dict[str, str]]) -> None:
    records = [{"kind": "x", **extra} for extra in fields]
    for record in redact_records(records):
        json.dumps(record)


@given(st.text(max_size=200))
def test_raw_bytes_stay_valid_hex(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    [record] = redact_records([{"kind": "connection", "hex": data.hex()}])
    bytes.fromhex(record["hex"])


def test_pseudonyms_are_stable_within_one_export() -> None:
    records = [
        {"kind": "a", "password": "hunter2hunter2"},
        {"kind": "b", "passwd": "hunter2hunter2"},
        {"kind": "c", "password": "another secret"},
        {"kind": "d", "mac": "00-11-22-aa-bb-cc", "note": "seen 001122AABBCC"},
    ]
    redacted = redact_records(records)
    assert [r.get("password") or r.get("passwd") for r in redacted[:3]] == [
        "PASSWORD-1",
        "PASSWORD-1",
        "PASSWORD-2",
    ]
    assert redacted[3] == {"kind": "d", "mac": "MAC-1", "note": "seen MAC-1"}


def test_a_secret_named_late_is_hidden_in_earlier_records() -> None:
    early = {"kind": "connection", "hex": b"hello s3cret-value".hex()}
    late = {"kind": "login", "decoded": {"password": "s3cret-value"}}
    pseudonyms = learn_secrets([early, late])
    assert bytes.fromhex(redact_record(early, pseudonyms)["hex"]) == b"hello PASSWORD-1"
    assert redact_record(early, pseudonyms)["hex_redacted"] is True


def test_unreadable_hex_is_dropped() -> None:
    [record] = redact_records([{"kind": "x", "hex": "not hex password=abc"}])
    assert record == {"kind": "x", "hex_unreadable": True}


def test_plain_fields_and_the_time_stay_readable() -> None:
    record = {"time": "2024-01-01T00:00:00+00:00", "kind": "x", "pwd": "2024", "local_port": 80}
    assert redact_records([record])[0] == record | {"pwd": "PASSWORD-1"}


def test_key_classification() -> None:
    assert classify_key("CX_PASSWD") is Category.PASSWORD
    assert classify_key("Authorization") is Category.PASSWORD
    assert classify_key("access_token") is Category.TOKEN
    assert classify_key("p2pKey") is Category.P2P_KEY and classify_key("AES") is Category.P2P_KEY
    assert classify_key("p2p-key") is Category.P2P_KEY  # the camera login reply's name for it
    assert classify_key("deviceMac") is Category.MAC
    assert classify_key("peer") is None
