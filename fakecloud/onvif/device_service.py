"""The ONVIF device service (tds): identity, clock, capabilities and the service list."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from fakecloud.onvif.device import MANUFACTURER, OnvifDevice, Operation
from fakecloud.onvif.soap import NAMESPACES, SoapRequest, node

TDS = NAMESPACES["tds"]
TRT = NAMESPACES["trt"]
# Answered without a UsernameToken: a client reads our clock before it can sign a digest,
# as the ONVIF core specification requires.
UNAUTHENTICATED = frozenset({"GetSystemDateAndTime"})


def get_system_date_and_time(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    now = datetime.now(UTC)
    time_node = node(
        "tt:Time",
        node("tt:Hour", str(now.hour)),
        node("tt:Minute", str(now.minute)),
        node("tt:Second", str(now.second)),
    )
    date_node = node(
        "tt:Date",
        node("tt:Year", str(now.year)),
        node("tt:Month", str(now.month)),
        node("tt:Day", str(now.day)),
    )
    return node(
        "tds:GetSystemDateAndTimeResponse",
        node(
            "tds:SystemDateAndTime",
            node("tt:DateTimeType", "NTP"),
            node("tt:DaylightSavings", "false"),
            node("tt:TimeZone", node("tt:TZ", "UTC0")),
            node("tt:UTCDateTime", time_node, date_node),
        ),
    )


def get_device_information(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    return node(
        "tds:GetDeviceInformationResponse",
        node("tds:Manufacturer", MANUFACTURER),
        node("tds:Model", device.model),
        node("tds:FirmwareVersion", device.firmware),
        node("tds:SerialNumber", device.hardware_address.replace(":", "").upper()),
        node("tds:HardwareId", str(device.camera_id)),
    )


def _streaming() -> etree._Element:
    return node(
        "tt:StreamingCapabilities",
        node("tt:RTPMulticast", "false"),
        node("tt:RTP_TCP", "true"),
        node("tt:RTP_RTSP_TCP", "true"),
    )


def get_capabilities(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    system = node(
        "tt:System",
        node("tt:DiscoveryResolve", "false"),
        node("tt:DiscoveryBye", "false"),
        node("tt:RemoteDiscovery", "false"),
        node("tt:SystemBackup", "false"),
        node("tt:SystemLogging", "false"),
        node("tt:FirmwareUpgrade", "false"),
        node("tt:SupportedVersions", node("tt:Major", "2"), node("tt:Minor", "0")),
    )
    device_caps = node("tt:Device", node("tt:XAddr", device.device_xaddr), system)
    media_caps = node("tt:Media", node("tt:XAddr", device.media_xaddr), _streaming())
    return node("tds:GetCapabilitiesResponse", node("tds:Capabilities", device_caps, media_caps))


def get_services(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    def service(namespace: str, xaddr: str) -> etree._Element:
        version = node("tds:Version", node("tt:Major", "2"), node("tt:Minor", "0"))
        return node(
            "tds:Service", node("tds:Namespace", namespace), node("tds:XAddr", xaddr), version
        )

    return node(
        "tds:GetServicesResponse",
        service(TDS, device.device_xaddr),
        service(TRT, device.media_xaddr),
    )


def get_network_interfaces(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    info = node("tt:Info", node("tt:Name", "eth0"), node("tt:HwAddress", device.hardware_address))
    interface = node(
        "tds:NetworkInterfaces", node("tt:Enabled", "true"), info, attributes={"token": "eth0"}
    )
    return node("tds:GetNetworkInterfacesResponse", interface)


def scopes(device: OnvifDevice) -> list[str]:
    """The device's ONVIF scopes, also announced by WS-Discovery."""
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in device.name)
    return [
        "onvif://www.onvif.org/Profile/Streaming",
        "onvif://www.onvif.org/type/video_encoder",
        f"onvif://www.onvif.org/name/{name}",
        "onvif://www.onvif.org/hardware/NetCam",
        "onvif://www.onvif.org/location/fakecloud",
    ]


def get_scopes(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    items = [
        node("tds:Scopes", node("tt:ScopeDef", "Fixed"), node("tt:ScopeItem", scope))
        for scope in scopes(device)
    ]
    return node("tds:GetScopesResponse", *items)


def get_hostname(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    info = node(
        "tds:HostnameInformation",
        node("tt:FromDHCP", "false"),
        node("tt:Name", f"netcam-{device.camera_id}"),
    )
    return node("tds:GetHostnameResponse", info)


OPERATIONS: dict[str, Operation] = {
    "GetSystemDateAndTime": get_system_date_and_time,
    "GetDeviceInformation": get_device_information,
    "GetCapabilities": get_capabilities,
    "GetServices": get_services,
    "GetNetworkInterfaces": get_network_interfaces,
    "GetScopes": get_scopes,
    "GetHostname": get_hostname,
}
