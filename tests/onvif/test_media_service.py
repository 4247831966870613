"""Every media-service answer is valid against the ONVIF media WSDL's schema, for requests as
zeep builds them; the URIs are the camera's RTSP and snapshot URLs."""

from __future__ import annotations

from typing import Any

import pytest

from fakecloud.onvif import media_service
from fakecloud.onvif.device import PROFILE_TOKEN
from fakecloud.onvif.soap import NAMESPACES, SoapFault, parse_request
from tests.onvif.devices import DEVICE
from tests.onvif.requests import request
from tests.onvif.schemas import assert_valid

TT = NAMESPACES["tt"]
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
ARGUMENTS: dict[str, dict[str, Any]] = {
    "GetProfile": {"ProfileToken": PROFILE_TOKEN},
    "GetStreamUri": {"StreamSetup": STREAM_SETUP, "ProfileToken": PROFILE_TOKEN},
    "GetSnapshotUri": {"ProfileToken": PROFILE_TOKEN},
}


def answer(operation: str, **arguments: Any) -> Any:
    parsed = parse_request(
        request("media", operation, **(arguments or ARGUMENTS.get(operation, {})))
    )
    assert_valid(parsed.body)  # what the client sent
    return media_service.OPERATIONS[operation](DEVICE, parsed)


@pytest.mark.parametrize("operation", sorted(media_service.OPERATIONS))
def test_every_answer_is_schema_valid(operation: str) -> None:
    assert_valid(answer(operation))


def test_the_uris_are_the_cameras_urls() -> None:
    assert (
        answer("GetStreamUri").findtext(f".//{{{TT}}}Uri")
        == "rtsp://192.168.1.20:8554/775753189167"
    )
    assert (
        answer("GetSnapshotUri").findtext(f".//{{{TT}}}Uri")
        == "http://192.168.1.20:8000/api/cameras/775753189167/snapshot.jpg"
    )


def test_the_profile_is_h264_at_the_cameras_size() -> None:
    profile = answer("GetProfiles")[0]
    assert profile.get("token") == PROFILE_TOKEN
    assert profile.findtext(f".//{{{TT}}}Encoding") == "H264"
    assert profile.findtext(f".//{{{TT}}}Width") == "1280"


def test_an_unknown_profile_is_a_fault() -> None:
    with pytest.raises(SoapFault) as fault:
        answer("GetStreamUri", StreamSetup=STREAM_SETUP, ProfileToken="other")
    assert fault.value.subcode == "NoProfile"
