"""The WS-Discovery codec: Probes as clients send them, matching rules, our answers read back,
and (fuzzed) no datagram raising anything but DiscoveryError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from fakecloud.onvif.discovery_codec import (
    DN,
    MAX_PROBE_BYTES,
    SOAP_ENV,
    TDS,
    WSD,
    DiscoveryError,
    Endpoint,
    Probe,
    hello,
    matches,
    parse_probe,
    parse_probe_matches,
    probe_matches,
    probe_message,
)

ENDPOINT = Endpoint(
    "urn:uuid:fa4ec10d-0000-4000-8000-94103e000001",
    ("http://192.168.1.20:8900/onvif/device_service",),
    ("onvif://www.onvif.org/Profile/Streaming", "onvif://www.onvif.org/name/Porch"),
)
# A Probe as ONVIF Device Manager-style clients write it: prefixes declared on the envelope.
CLIENT_PROBE = b"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
 <s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>
 <a:MessageID>uuid:1b2c3d</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
 </s:Header><s:Body><d:Probe><d:Types>tds:Device</d:Types>
 <d:Scopes>onvif://www.onvif.org/Profile</d:Scopes></d:Probe></s:Body></s:Envelope>"""


def test_a_clients_probe() -> None:
    probe = parse_probe(CLIENT_PROBE)
    assert probe.message_id == "uuid:1b2c3d"
    assert probe.types == {(TDS, "Device")}
    assert matches(probe, ENDPOINT)  # Profile is a whole-segment prefix of Profile/Streaming


@pytest.mark.parametrize(
    ("types", "scopes", "expected"),
    [
        ([], [], True),
        ([(DN, "NetworkVideoTransmitter")], [], True),
        ([(DN, "NetworkVideoTransmitter"), (TDS, "Device")], [], True),
        ([("http://example.com/printers", "Printer")], [], False),
        ([], ["onvif://www.onvif.org/name/Porch"], True),
        ([], ["onvif://www.onvif.org/name/Por"], False),  # not a whole segment
        ([], ["onvif://www.onvif.org/location/moon"], False),
    ],
)
def test_matching(types: list[tuple[str, str]], scopes: list[str], expected: bool) -> None:
    assert matches(Probe("uuid:1", frozenset(types), tuple(scopes)), ENDPOINT) is expected


def test_the_answer_relates_to_the_probe_and_describes_the_device() -> None:
    probe = parse_probe(probe_message([(DN, "NetworkVideoTransmitter")]))
    (match,) = parse_probe_matches(probe_matches(probe, ENDPOINT, (7, 1)))
    assert match.relates_to == probe.message_id
    assert (match.address, match.xaddrs, match.scopes) == (
        ENDPOINT.address,
        ENDPOINT.xaddrs,
        ENDPOINT.scopes,
    )
    assert match.types == "dn:NetworkVideoTransmitter tds:Device"


def test_hello_is_multicast_to_the_discovery_urn() -> None:
    root = etree.fromstring(hello(ENDPOINT, (7, 2)))
    assert root.find(f"{{{SOAP_ENV}}}Body/{{{WSD}}}Hello") is not None
    assert b"urn:schemas-xmlsoap-org:ws:2005:04:discovery" in etree.tostring(root)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<x/>",
        CLIENT_PROBE.replace(b"/Probe</a:Action>", b"/Resolve</a:Action>"),
        CLIENT_PROBE.replace(b"<a:MessageID>uuid:1b2c3d</a:MessageID>", b""),
        CLIENT_PROBE.replace(b"tds:Device", b"nope:Device"),
        CLIENT_PROBE.replace(b"tds:Device", b" ".join([b"tds:Device"] * 40)),
        b"<!DOCTYPE a>" + CLIENT_PROBE[CLIENT_PROBE.index(b"<s:Envelope") :],
        b" " * (MAX_PROBE_BYTES + 1),
    ],
)
def test_what_is_not_a_probe_is_refused(data: bytes) -> None:
    with pytest.raises(DiscoveryError):
        parse_probe(data)


PIECES = st.sampled_from(
    [
        CLIENT_PROBE[: CLIENT_PROBE.index(b"<s:Header>")],
        b"<s:Header>",
        b"<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>",
        b"<a:MessageID>x</a:MessageID>",
        b"</s:Header><s:Body><d:Probe>",
        b"<d:Types>tds:Device q:x :y</d:Types>",
        b"<d:Scopes>a b c</d:Scopes>",
        b"</d:Probe></s:Body></s:Envelope>",
        b"&#0;",
        b"\xff",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=512), st.lists(PIECES, max_size=10).map(b"".join)))
def test_fuzzed_datagrams_parse_or_are_refused(data: bytes) -> None:
    try:
        probe = parse_probe(data)
    except DiscoveryError:
        return
    matches(probe, ENDPOINT)
    probe_matches(probe, ENDPOINT, (1, 1))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80), st.lists(st.text(max_size=40), max_size=5))
def test_fuzzed_probe_contents(message_id: str, scopes: list[str]) -> None:
    probe = Probe(message_id, frozenset({(TDS, "Device")}), tuple(scopes))
    matches(probe, ENDPOINT)
    try:
        parse_probe_matches(probe_matches(probe, ENDPOINT, (1, 1)))
    except ValueError:
        pass  # text lxml refuses to write (control characters) never came from a parsed probe
