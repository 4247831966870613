"""The SOAP codec: requests as zeep builds them, hostile XML refused with a fault, and (fuzzed)
no input raising anything but SoapFault."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from fakecloud.onvif.soap import (
    MAX_REQUEST_BYTES,
    NAMESPACES,
    SoapFault,
    envelope,
    fault_envelope,
    node,
    parse_request,
)
from tests.onvif.requests import request

ENV = NAMESPACES["env"]


def test_a_zeep_request_with_a_digest_token() -> None:
    parsed = parse_request(request("device", "GetDeviceInformation", login="alice", password="x"))
    assert (parsed.namespace, parsed.operation) == (NAMESPACES["tds"], "GetDeviceInformation")
    assert parsed.token is not None
    assert parsed.token.username == "alice" and parsed.token.digest
    assert len(parsed.token.nonce) == 16 and parsed.token.created.startswith("20")


def test_a_password_text_token() -> None:
    body = request("device", "GetScopes", login="alice", password="secret", digest=False)
    token = parse_request(body).token
    assert token is not None and not token.digest and token.password == "secret"


def test_no_token_is_none() -> None:
    assert parse_request(request("device", "GetSystemDateAndTime")).token is None


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><x>&lol2;</x></e:Body>
</e:Envelope>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY file SYSTEM "file:///etc/passwd">]>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><x>&file;</x></e:Body>
</e:Envelope>"""
SOAP11 = b"""<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><x/></e:Body>
</e:Envelope>"""


@pytest.mark.parametrize(
    ("data", "subcode"),
    [
        (BOMB, "WellFormed"),
        (EXTERNAL, "WellFormed"),
        (SOAP11, "VersionMismatch"),
        (b"<not xml", "WellFormed"),
        (b"<e:Envelope xmlns:e='" + ENV.encode() + b"'><e:Body/></e:Envelope>", "InvalidArgVal"),
        (b" " * (MAX_REQUEST_BYTES + 1), "InvalidArgVal"),
    ],
)
def test_hostile_or_malformed_requests_are_sender_faults(data: bytes, subcode: str) -> None:
    with pytest.raises(SoapFault) as fault:
        parse_request(data)
    assert (fault.value.code, fault.value.subcode) == ("Sender", subcode)
    assert fault.value.http_status == 400


def test_a_bad_nonce_is_not_authorized() -> None:
    body = request("device", "GetScopes", login="alice", password="x")
    broken = body.replace(b"==</wsse:Nonce>", b"=!</wsse:Nonce>")
    with pytest.raises(SoapFault) as fault:
        parse_request(broken)
    assert fault.value.subcode == "NotAuthorized"


def test_the_fault_is_a_soap12_fault_with_a_ter_subcode() -> None:
    root = etree.fromstring(fault_envelope(SoapFault("Sender", "NotAuthorized", "no")))
    value = root.find(f".//{{{ENV}}}Subcode/{{{ENV}}}Value")
    assert value is not None and value.text == "ter:NotAuthorized"
    assert value.nsmap["ter"] == NAMESPACES["ter"]


def test_an_envelope_round_trips() -> None:
    data = envelope(node("tds:GetScopes"))
    assert parse_request(data).operation == "GetScopes"


XML_PIECES = st.sampled_from(
    [
        b"<e:Envelope xmlns:e='" + ENV.encode() + b"'>",
        b"</e:Envelope>",
        b"<e:Header>",
        b"</e:Header>",
        b"<e:Body>",
        b"</e:Body>",
        b"<w:Security xmlns:w='" + NAMESPACES["tds"].encode() + b"'>",
        b"<UsernameToken><Password Type='x'>p</Password></UsernameToken>",
        b"<!DOCTYPE a>",
        b"&amp;",
        b"\x00",
        b"<x/>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=512), st.lists(XML_PIECES, max_size=12).map(b"".join)))
def test_fuzzed_requests_parse_or_fault(data: bytes) -> None:
    try:
        parse_request(data)
    except SoapFault:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_fuzzed_tokens_parse_or_fault(noise: bytes) -> None:
    body = request("device", "GetScopes", login="alice", password="x")
    start = body.index(b"<wsse:Nonce")
    try:
        parse_request(body[:start] + noise + body[start:])
    except SoapFault:
        pass
