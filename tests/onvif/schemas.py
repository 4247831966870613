"""The ONVIF schemas, from the WSDL/XSD files the onvif-zeep-async package ships, compiled by
lxml to validate what our services send and what a real client sends (no network: every import
is a file beside the WSDL)."""

from __future__ import annotations

import functools
from pathlib import Path

import onvif
from lxml import etree

WSDL_DIR = Path(onvif.__file__).parent / "wsdl"
XS = "http://www.w3.org/2001/XMLSchema"
WSDL_FILES = {
    "http://www.onvif.org/ver10/device/wsdl": "devicemgmt.wsdl",
    "http://www.onvif.org/ver10/media/wsdl": "media.wsdl",
}
_PARSER = etree.XMLParser(no_network=True, resolve_entities=False)


@functools.cache
def service_schema(namespace: str) -> etree.XMLSchema:
    """The schema of one service's messages: the xs:schema inside its WSDL, with its relative
    imports made absolute file paths."""
    wsdl = etree.parse(str(WSDL_DIR / WSDL_FILES[namespace]), _PARSER)
    found = wsdl.find(f".//{{{XS}}}schema")
    assert found is not None
    # Standalone, with every namespace the WSDL declares (type="trt:..." needs its prefix).
    schema = etree.Element(found.tag, dict(found.attrib), nsmap=found.nsmap)
    schema.extend(found)
    for imported in schema.iter(f"{{{XS}}}import"):
        location = imported.get("schemaLocation")
        if location:
            imported.set("schemaLocation", (WSDL_DIR / location).resolve().as_uri())
    return etree.XMLSchema(schema)


@functools.cache
def onvif_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(WSDL_DIR / "onvif.xsd"), _PARSER))


def assert_valid(element: etree._Element) -> None:
    """The element (a request or response of the device or media service) is schema-valid."""
    namespace = etree.QName(element).namespace
    assert namespace is not None
    schema = service_schema(namespace)
    if not schema.validate(etree.fromstring(etree.tostring(element))):
        raise AssertionError(str(schema.error_log))
