"""The ONVIF media service (trt, Profile S): one H.264 profile, its RTSP and snapshot URIs."""

from __future__ import annotations

from lxml import etree

from fakecloud.onvif.device import PROFILE_TOKEN, VIDEO_SOURCE_TOKEN, OnvifDevice, Operation
from fakecloud.onvif.soap import NAMESPACES, SoapFault, SoapRequest, child_text, node

TRT = NAMESPACES["trt"]
ENCODER_TOKEN = "video_encoder_1"


def _resolution(device: OnvifDevice) -> etree._Element:
    return node(
        "tt:Resolution", node("tt:Width", str(device.width)), node("tt:Height", str(device.height))
    )


def _source_configuration(
    device: OnvifDevice, element: str = "tt:VideoSourceConfiguration"
) -> etree._Element:
    bounds = {"x": "0", "y": "0", "width": str(device.width), "height": str(device.height)}
    return node(
        element,
        node("tt:Name", "video source"),
        node("tt:UseCount", "1"),
        node("tt:SourceToken", VIDEO_SOURCE_TOKEN),
        node("tt:Bounds", attributes=bounds),
        attributes={"token": VIDEO_SOURCE_TOKEN},
    )


def _encoder_configuration(
    device: OnvifDevice, element: str = "tt:VideoEncoderConfiguration"
) -> etree._Element:
    rate = node(
        "tt:RateControl",
        node("tt:FrameRateLimit", str(device.fps)),
        node("tt:EncodingInterval", "1"),
        node("tt:BitrateLimit", "2048"),
    )
    multicast = node(
        "tt:Multicast",
        node("tt:Address", node("tt:Type", "IPv4"), node("tt:IPv4Address", "0.0.0.0")),
        node("tt:Port", "0"),
        node("tt:TTL", "1"),
        node("tt:AutoStart", "false"),
    )
    return node(
        element,
        node("tt:Name", "H.264 passthrough"),
        node("tt:UseCount", "1"),
        node("tt:Encoding", "H264"),
        _resolution(device),
        node("tt:Quality", "5"),
        rate,
        node("tt:H264", node("tt:GovLength", str(device.fps)), node("tt:H264Profile", "Main")),
        multicast,
        node("tt:SessionTimeout", "PT60S"),
        attributes={"token": ENCODER_TOKEN},
    )


def _profile(device: OnvifDevice, element: str) -> etree._Element:
    return node(
        element,
        node("tt:Name", device.name[:64]),
        _source_configuration(device),
        _encoder_configuration(device),
        attributes={"token": PROFILE_TOKEN, "fixed": "true"},
    )


def _check_profile(request: SoapRequest) -> None:
    token = child_text(request.body, TRT, "ProfileToken")
    if token != PROFILE_TOKEN:
        raise SoapFault("Sender", "NoProfile", f"no profile {token!r}")


def get_profiles(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    return node("trt:GetProfilesResponse", _profile(device, "trt:Profiles"))


def get_profile(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    _check_profile(request)
    return node("trt:GetProfileResponse", _profile(device, "trt:Profile"))


def _media_uri(response: str, uri: str) -> etree._Element:
    return node(
        response,
        node(
            "trt:MediaUri",
            node("tt:Uri", uri),
            node("tt:InvalidAfterConnect", "false"),
            node("tt:InvalidAfterReboot", "false"),
            node("tt:Timeout", "PT0S"),
        ),
    )


def get_stream_uri(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    _check_profile(request)
    return _media_uri("trt:GetStreamUriResponse", device.rtsp_url)


def get_snapshot_uri(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    _check_profile(request)
    return _media_uri("trt:GetSnapshotUriResponse", device.snapshot_url)


def get_video_sources(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    source = node(
        "trt:VideoSources",
        node("tt:Framerate", str(device.fps)),
        _resolution(device),
        attributes={"token": VIDEO_SOURCE_TOKEN},
    )
    return node("trt:GetVideoSourcesResponse", source)


def get_video_source_configurations(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    configuration = _source_configuration(device, "trt:Configurations")
    return node("trt:GetVideoSourceConfigurationsResponse", configuration)


def get_video_encoder_configurations(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    configuration = _encoder_configuration(device, "trt:Configurations")
    return node("trt:GetVideoEncoderConfigurationsResponse", configuration)


def get_service_capabilities(device: OnvifDevice, request: SoapRequest) -> etree._Element:
    """Home Assistant reads SnapshotUri here to decide whether to fetch snapshots."""
    capabilities = node(
        "trt:Capabilities",
        node("trt:ProfileCapabilities", attributes={"MaximumNumberOfProfiles": "1"}),
        node(
            "trt:StreamingCapabilities",
            attributes={"RTPMulticast": "false", "RTP_TCP": "true", "RTP_RTSP_TCP": "true"},
        ),
        attributes={"SnapshotUri": "true", "Rotation": "false", "OSD": "false"},
    )
    return node("trt:GetServiceCapabilitiesResponse", capabilities)


OPERATIONS: dict[str, Operation] = {
    "GetProfiles": get_profiles,
    "GetProfile": get_profile,
    "GetStreamUri": get_stream_uri,
    "GetSnapshotUri": get_snapshot_uri,
    "GetVideoSources": get_video_sources,
    "GetVideoSourceConfigurations": get_video_source_configurations,
    "GetVideoEncoderConfigurations": get_video_encoder_configurations,
    "GetServiceCapabilities": get_service_capabilities,
}
