"""WS-Discovery messages (a pure codec): Probe in, ProbeMatches and Hello out.

ONVIF devices answer a Probe for dn:NetworkVideoTransmitter or tds:Device (or one naming no
type) with a ProbeMatch giving their endpoint reference, types, scopes and XAddrs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from fakecloud.onvif.soap import SOAP_ENV, parse_untrusted

WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DN = "http://www.onvif.org/ver10/network/wsdl"
TDS = "http://www.onvif.org/ver10/device/wsdl"
PROBE_ACTION = f"{WSD}/Probe"
PROBE_MATCHES_ACTION = f"{WSD}/ProbeMatches"
HELLO_ACTION = f"{WSD}/Hello"
DISCOVERY_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = f"{WSA}/role/anonymous"
# The types an ONVIF Profile S device is, as (namespace, local name).
DEVICE_TYPES = frozenset({(DN, "NetworkVideoTransmitter"), (TDS, "Device")})
_NSMAP = {"s": SOAP_ENV, "a": WSA, "d": WSD, "dn": DN, "tds": TDS}
_TYPES_TEXT = "dn:NetworkVideoTransmitter tds:Device"
# Security consideration: a probe is a few hundred bytes; a datagram over this is not parsed,
# and neither is a probe listing more than this many types or scopes.
MAX_PROBE_BYTES = 8192
MAX_LIST_ITEMS = 32
_MAX_ID_CHARS = 256


class DiscoveryError(ValueError):
    """The datagram is not a WS-Discovery Probe (it is dropped without an answer)."""


@dataclass(frozen=True)
class Probe:
    message_id: str
    types: frozenset[tuple[str, str]]  # (namespace, local name); empty: any type
    scopes: tuple[str, ...]  # empty: any scope


@dataclass(frozen=True)
class Endpoint:
    """One device as discovery announces it."""

    address: str  # urn:uuid:...
    xaddrs: tuple[str, ...]
    scopes: tuple[str, ...]


def parse_probe(data: bytes) -> Probe:
    if len(data) > MAX_PROBE_BYTES:
        raise DiscoveryError("datagram too large")
    root = _parse(data)
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise DiscoveryError("not a SOAP 1.2 envelope")
    if _text(root.find(f"{{{SOAP_ENV}}}Header/{{{WSA}}}Action")) != PROBE_ACTION:
        raise DiscoveryError("not a Probe")
    probe = root.find(f"{{{SOAP_ENV}}}Body/{{{WSD}}}Probe")
    if probe is None:
        raise DiscoveryError("no Probe in the body")
    message_id = _text(root.find(f"{{{SOAP_ENV}}}Header/{{{WSA}}}MessageID"))
    if not message_id or len(message_id) > _MAX_ID_CHARS:
        raise DiscoveryError("a Probe needs a MessageID")
    types_node = probe.find(f"{{{WSD}}}Types")
    scopes = tuple(_items(probe.find(f"{{{WSD}}}Scopes")))
    types = frozenset(_qname(types_node, item) for item in _items(types_node))
    return Probe(message_id, types, scopes)


def _parse(data: bytes) -> etree._Element:
    try:
        return parse_untrusted(data)
    except ValueError as error:
        raise DiscoveryError(str(error)) from None


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _items(element: etree._Element | None) -> list[str]:
    items = _text(element).split()
    if len(items) > MAX_LIST_ITEMS:
        raise DiscoveryError("too many items in a list")
    return items


def _qname(element: etree._Element | None, item: str) -> tuple[str, str]:
    prefix, separator, local = item.rpartition(":")
    declared = element.nsmap if element is not None else {}
    # Lenient, as cameras are: an undeclared dn: or tds: prefix still means the ONVIF one.
    namespace = declared.get(prefix if separator else None) or _NSMAP.get(prefix)
    if namespace is None:
        raise DiscoveryError(f"type {item!r} has no namespace")
    return namespace, local


def matches(probe: Probe, endpoint: Endpoint) -> bool:
    """WS-Discovery matching: every probed type is one of ours, and every probed scope is a
    prefix (by whole path segments, the RFC 3986 rule) of one of ours."""
    if not probe.types <= DEVICE_TYPES:
        return False
    return all(
        any(_scope_matches(wanted, ours) for ours in endpoint.scopes) for wanted in probe.scopes
    )


def _scope_matches(wanted: str, ours: str) -> bool:
    wanted, ours = wanted.rstrip("/"), ours.rstrip("/")
    return ours == wanted or ours.startswith(wanted + "/")


def _header(
    action: str, to: str, relates_to: str | None, sequence: tuple[int, int]
) -> etree._Element:
    header = etree.Element(f"{{{SOAP_ENV}}}Header")
    etree.SubElement(header, f"{{{WSA}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
    if relates_to is not None:
        etree.SubElement(header, f"{{{WSA}}}RelatesTo").text = relates_to
    etree.SubElement(header, f"{{{WSA}}}To").text = to
    etree.SubElement(header, f"{{{WSA}}}Action").text = action
    instance, number = sequence
    etree.SubElement(
        header,
        f"{{{WSD}}}AppSequence",
        InstanceId=str(instance),
        MessageNumber=str(number),
    )
    return header


def _describe(parent: etree._Element, endpoint: Endpoint) -> None:
    reference = etree.SubElement(parent, f"{{{WSA}}}EndpointReference")
    etree.SubElement(reference, f"{{{WSA}}}Address").text = endpoint.address
    etree.SubElement(parent, f"{{{WSD}}}Types").text = _TYPES_TEXT
    etree.SubElement(parent, f"{{{WSD}}}Scopes").text = " ".join(endpoint.scopes)
    etree.SubElement(parent, f"{{{WSD}}}XAddrs").text = " ".join(endpoint.xaddrs)
    etree.SubElement(parent, f"{{{WSD}}}MetadataVersion").text = "1"


def _message(header: etree._Element, body_content: etree._Element) -> bytes:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=_NSMAP)
    root.append(header)
    etree.SubElement(root, f"{{{SOAP_ENV}}}Body").append(body_content)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def probe_matches(probe: Probe, endpoint: Endpoint, sequence: tuple[int, int]) -> bytes:
    """The unicast answer to `probe` for one device."""
    body = etree.Element(f"{{{WSD}}}ProbeMatches")
    _describe(etree.SubElement(body, f"{{{WSD}}}ProbeMatch"), endpoint)
    return _message(_header(PROBE_MATCHES_ACTION, ANONYMOUS, probe.message_id, sequence), body)


def hello(endpoint: Endpoint, sequence: tuple[int, int]) -> bytes:
    """The multicast announcement of one device joining the network."""
    body = etree.Element(f"{{{WSD}}}Hello")
    _describe(body, endpoint)
    return _message(_header(HELLO_ACTION, DISCOVERY_TO, None, sequence), body)


def probe_message(types: Iterable[tuple[str, str]] = (), message_id: str | None = None) -> bytes:
    """A Probe (what a client multicasts) for types in the ONVIF namespaces; tests send it."""
    header = etree.Element(f"{{{SOAP_ENV}}}Header")
    etree.SubElement(header, f"{{{WSA}}}MessageID").text = message_id or f"urn:uuid:{uuid.uuid4()}"
    etree.SubElement(header, f"{{{WSA}}}To").text = DISCOVERY_TO
    etree.SubElement(header, f"{{{WSA}}}Action").text = PROBE_ACTION
    body = etree.Element(f"{{{WSD}}}Probe")
    prefixes = {namespace: prefix for prefix, namespace in _NSMAP.items()}
    types_node = etree.SubElement(body, f"{{{WSD}}}Types")
    types_node.text = " ".join(f"{prefixes[namespace]}:{local}" for namespace, local in types)
    return _message(header, body)


@dataclass(frozen=True)
class ProbeMatch:
    relates_to: str
    address: str
    types: str
    scopes: tuple[str, ...]
    xaddrs: tuple[str, ...]


def parse_probe_matches(data: bytes) -> list[ProbeMatch]:
    """The matches a ProbeMatches message carries (what a client reads; tests use it)."""
    root = _parse(data)
    relates_to = _text(root.find(f"{{{SOAP_ENV}}}Header/{{{WSA}}}RelatesTo"))
    return [
        ProbeMatch(
            relates_to=relates_to,
            address=_text(match.find(f"{{{WSA}}}EndpointReference/{{{WSA}}}Address")),
            types=_text(match.find(f"{{{WSD}}}Types")),
            scopes=tuple(_text(match.find(f"{{{WSD}}}Scopes")).split()),
            xaddrs=tuple(_text(match.find(f"{{{WSD}}}XAddrs")).split()),
        )
        for match in root.iterfind(f"{{{SOAP_ENV}}}Body/{{{WSD}}}ProbeMatches/{{{WSD}}}ProbeMatch")
    ]
