"""UPnP eventing (GENA, UPnP Device Architecture 1.1 section 4) as the WeMo sensor speaks it:
what a SUBSCRIBE sends and gets back, and the motion state in a NOTIFY's property set.
Pure: headers and bytes in, values out.

The WeMo NetCam's sensor service is `basicevent` (event URL `/upnp/event/basicevent1`) and its
motion state the `BinaryState` variable: "1" motion, "0" none, sometimes with more fields after
a `|` [I: WeMo devices in general; the NetCam's own notes only name the device type].
"""

from __future__ import annotations

from dataclasses import dataclass

from fakecloud.onvif.soap import parse_untrusted

EVENT_PATH = "/upnp/event/basicevent1"
DEVICE_TYPE = "urn:Belkin:device:NetCamSensor:1"
# Security consideration: a property set is a few hundred bytes; more is refused unparsed.
MAX_NOTIFY_BYTES = 16 * 1024
MAX_SID_CHARS = 128
DEFAULT_TIMEOUT = 600
MIN_TIMEOUT, MAX_TIMEOUT = 30, 86400


class GenaError(ValueError):
    """A subscription answer or notification that does not follow GENA."""


@dataclass(frozen=True, slots=True)
class Subscription:
    sid: str
    seconds: int


def subscribe_headers(callback: str, seconds: int = DEFAULT_TIMEOUT) -> dict[str, str]:
    return {"CALLBACK": f"<{callback}>", "NT": "upnp:event", "TIMEOUT": f"Second-{seconds}"}


def renew_headers(sid: str, seconds: int = DEFAULT_TIMEOUT) -> dict[str, str]:
    return {"SID": sid, "TIMEOUT": f"Second-{seconds}"}


def parse_sid(value: str | None) -> str:
    sid = (value or "").strip()
    if not sid.startswith("uuid:") or len(sid) > MAX_SID_CHARS or not sid.isprintable():
        raise GenaError(f"not a subscription id: {sid[:40]!r}")
    return sid


def parse_subscription(sid: str | None, timeout: str | None) -> Subscription:
    """A SUBSCRIBE answer's SID and TIMEOUT (`Second-N`, or `infinite`, kept to MAX_TIMEOUT)."""
    text = (timeout or "").strip().lower()
    if text == "second-infinite" or text == "infinite":
        seconds = MAX_TIMEOUT
    elif text.startswith("second-") and text[7:].isdigit():
        seconds = min(MAX_TIMEOUT, max(MIN_TIMEOUT, int(text[7:])))
    elif not text:
        seconds = DEFAULT_TIMEOUT
    else:
        raise GenaError(f"not a GENA timeout: {text[:40]!r}")
    return Subscription(parse_sid(sid), seconds)


def notified_properties(body: bytes) -> dict[str, str]:
    """The variables a NOTIFY's `<e:propertyset>` carries, by local name."""
    if len(body) > MAX_NOTIFY_BYTES:
        raise GenaError(f"a {len(body)}-byte notification is too large")
    try:
        root = parse_untrusted(body)
    except ValueError as error:
        raise GenaError(str(error)) from None
    if not isinstance(root.tag, str) or root.tag.rpartition("}")[2] != "propertyset":
        raise GenaError("not a UPnP property set")
    found: dict[str, str] = {}
    for prop in root:
        for variable in prop:
            if isinstance(variable.tag, str):
                found[variable.tag.rpartition("}")[2]] = (variable.text or "").strip()
    return found


def motion_state(properties: dict[str, str]) -> bool | None:
    """True for motion, False for none, None when the notification does not say."""
    value = properties.get("BinaryState")
    if value is None:
        return None
    first = value.partition("|")[0].strip()
    if first not in ("0", "1"):
        raise GenaError(f"BinaryState {first[:20]!r} is neither 0 nor 1")
    return first == "1"
