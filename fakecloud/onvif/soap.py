"""SOAP 1.2 for the ONVIF services: safe parsing, envelopes, faults and the WS-UsernameToken
header (a pure codec: bytes in, objects out, no I/O)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from lxml import etree

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TOKEN_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_DIGEST = f"{TOKEN_PROFILE}#PasswordDigest"
PASSWORD_TEXT = f"{TOKEN_PROFILE}#PasswordText"
NAMESPACES = {
    "env": SOAP_ENV,
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
}
# Security consideration: a SOAP request is a few kilobytes; anything larger is refused before
# it is parsed (the HTTP layer enforces the same bound on the body).
MAX_REQUEST_BYTES = 64 * 1024
_MAX_FIELD_CHARS = 256

# Security consideration: no DTDs, no entity expansion, no network access, no huge trees; a
# document with a DOCTYPE is refused outright (parse_untrusted).
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_untrusted(data: bytes) -> etree._Element:
    """The root of an XML document from the network; ValueError if it is malformed or has a
    DTD (SOAP forbids them; entity bombs and external entities need one)."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        raise ValueError("not well-formed XML") from None
    if root.getroottree().docinfo.doctype:
        raise ValueError("DTDs are not accepted")
    return root


class SoapFault(Exception):
    """A fault to answer with: `code` is Sender or Receiver, `subcode` a ter: name."""

    def __init__(self, code: str, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason = code, subcode, reason

    @property
    def http_status(self) -> int:
        return 400 if self.code == "Sender" else 500


def not_authorized() -> SoapFault:
    return SoapFault("Sender", "NotAuthorized", "Sender not authorized")


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str
    digest: bool  # PasswordDigest; False: PasswordText
    nonce: bytes
    created: str


@dataclass(frozen=True)
class SoapRequest:
    namespace: str  # of the operation element, e.g. the device service's
    operation: str  # its local name, e.g. GetProfiles
    body: etree._Element
    token: UsernameToken | None


def parse_request(data: bytes) -> SoapRequest:
    """The operation and credentials of a request; SoapFault for anything malformed."""
    if len(data) > MAX_REQUEST_BYTES:
        raise SoapFault("Sender", "InvalidArgVal", "request too large")
    try:
        root = parse_untrusted(data)
    except ValueError as error:
        raise SoapFault("Sender", "WellFormed", str(error)) from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Sender", "VersionMismatch", "expected a SOAP 1.2 Envelope")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    operation = _first_element(body) if body is not None else None
    if operation is None:
        raise SoapFault("Sender", "InvalidArgVal", "empty SOAP Body")
    qname = etree.QName(operation)
    return SoapRequest(qname.namespace or "", qname.localname, operation, _username_token(root))


def _first_element(parent: etree._Element) -> etree._Element | None:
    return next((child for child in parent if isinstance(child.tag, str)), None)


def _username_token(root: etree._Element) -> UsernameToken | None:
    token = root.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        return None
    password = token.find(f"{{{WSSE}}}Password")
    if password is None:
        raise not_authorized()
    kind = password.get("Type", PASSWORD_TEXT)
    if kind not in (PASSWORD_DIGEST, PASSWORD_TEXT):
        raise not_authorized()
    nonce_text = _text(token, f"{{{WSSE}}}Nonce")
    try:
        nonce = base64.b64decode(nonce_text, validate=True)
    except (binascii.Error, ValueError):
        raise not_authorized() from None
    return UsernameToken(
        username=_text(token, f"{{{WSSE}}}Username"),
        password=(password.text or "").strip()[:_MAX_FIELD_CHARS],
        digest=kind == PASSWORD_DIGEST,
        nonce=nonce,
        created=_text(token, f"{{{WSU}}}Created"),
    )


def _text(parent: etree._Element, path: str) -> str:
    found = parent.find(path)
    text = found.text if found is not None else None
    return (text or "").strip()[:_MAX_FIELD_CHARS]


def child_text(parent: etree._Element, namespace: str, name: str) -> str:
    """The text of a request's child element (empty when it has none)."""
    return _text(parent, f"{{{namespace}}}{name}")


def node(
    qname: str,
    *children: etree._Element | str,
    attributes: dict[str, str] | None = None,
) -> etree._Element:
    """An element named 'prefix:Local' (prefixes of NAMESPACES) with children and/or text."""
    element = etree.Element(_expand(qname), nsmap=None)
    for name, value in (attributes or {}).items():
        element.set(name, value)
    for child in children:
        if isinstance(child, str):
            element.text = child
        else:
            element.append(child)
    return element


def _expand(qname: str) -> str:
    prefix, _, local = qname.partition(":")
    return f"{{{NAMESPACES[prefix]}}}{local}"


def envelope(body_content: etree._Element) -> bytes:
    """A SOAP 1.2 envelope around one response element."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=NAMESPACES)
    etree.SubElement(root, f"{{{SOAP_ENV}}}Body").append(body_content)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def fault_envelope(fault: SoapFault) -> bytes:
    """The SOAP 1.2 fault ONVIF clients read: env:Sender/Receiver with a ter: subcode."""
    subcode = node("env:Subcode", node("env:Value", f"ter:{fault.subcode}"))
    code = node("env:Code", node("env:Value", f"env:{fault.code}"), subcode)
    reason = node("env:Reason", node("env:Text", fault.reason))
    reason[0].set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    return envelope(node("env:Fault", code, reason))
