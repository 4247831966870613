"""A WHEP request's SDP offer, checked before any peer connection is made, and the H.264 codec
fakecloud answers with. Pure: bytes in, values out; aiortc's SDP parser does the parsing."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiortc import RTCRtpCodecCapability, RTCRtpSender
from aiortc.sdp import SessionDescription, parse_h264_profile_level_id

from fakecloud.media.depacketizer import nal_header, split_annexb

SDP_TYPE = "application/sdp"
JSON_TYPE = "application/json"
# Security consideration: a browser's offer is a few kilobytes; the cap keeps a hostile body
# from costing parse time. Each media section may cost an ICE transport (sockets), so a client
# gets only a few of them (a WHEP offer has one video and maybe one audio section).
MAX_OFFER_BYTES = 32 * 1024
MAX_MEDIA_SECTIONS = 4
# What WebRTC assumes when an offer names no profile: Constrained Baseline, level 3.1.
DEFAULT_PROFILE_LEVEL_ID = "42e01f"
SPS_NAL_TYPE = 7


class OfferError(ValueError):
    """The request does not carry an SDP offer fakecloud can answer (HTTP 400)."""


class OfferTypeError(OfferError):
    """The request's Content-Type is neither application/sdp nor application/json (HTTP 415)."""


@dataclass(frozen=True, slots=True)
class Offer:
    sdp: str
    as_json: bool  # the client sent {"type": "offer", "sdp": ...} and gets JSON back


def read_offer(body: bytes, content_type: str) -> Offer:
    """The offer in a request body (application/sdp, or JSON as RTCSessionDescription has it),
    with at least one video section that offers H.264 in packetization mode 1."""
    if len(body) > MAX_OFFER_BYTES:
        raise OfferError(f"the offer is larger than {MAX_OFFER_BYTES} bytes")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type == SDP_TYPE:
        offer = Offer(_text(body), as_json=False)
    elif media_type == JSON_TYPE:
        offer = Offer(_json_sdp(body), as_json=True)
    else:
        raise OfferTypeError(f"send the offer as {SDP_TYPE} (or {JSON_TYPE})")
    _check_sdp(offer.sdp)
    return offer


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise OfferError("the offer is not UTF-8 text") from None


def _json_sdp(body: bytes) -> str:
    try:
        document = json.loads(_text(body))
    except (ValueError, RecursionError):
        raise OfferError("the body is not JSON") from None
    if not isinstance(document, dict) or document.get("type") != "offer":
        raise OfferError('the JSON body must be {"type": "offer", "sdp": "..."}')
    sdp = document.get("sdp")
    if not isinstance(sdp, str):
        raise OfferError('the JSON body must be {"type": "offer", "sdp": "..."}')
    return sdp


def _check_sdp(sdp: str) -> None:
    if not sdp.startswith("v=0"):
        raise OfferError("the offer is not SDP (it must start with v=0)")
    try:
        description = SessionDescription.parse(sdp)
    except Exception as error:  # any failure of the third-party parser means a bad offer
        raise OfferError(f"the offer is not valid SDP: {error!r:.200}") from None
    if len(description.media) > MAX_MEDIA_SECTIONS:
        raise OfferError(f"the offer has more than {MAX_MEDIA_SECTIONS} media sections")
    if not any(
        media.kind == "video"
        and any(
            codec.mimeType.lower() == "video/h264"
            and str(codec.parameters.get("packetization-mode")) == "1"
            for codec in media.rtp.codecs
        )
        for media in description.media
    ):
        raise OfferError(
            "the offer has no H.264 video in packetization mode 1: fakecloud passes the "
            "camera's H.264 through and does not re-encode"
        )


def profile_level_id(access_unit: bytes) -> str | None:
    """The SDP profile-level-id (profile_idc, constraint flags, level_idc in hex) from the
    sequence parameter set in an Annex-B access unit; None when it carries no SPS."""
    for unit in split_annexb(access_unit):
        header = nal_header(unit)
        if header is not None and header[0] == SPS_NAL_TYPE:
            body = unit[unit.find(b"\x00\x00\x01") + 3 :]
            if len(body) >= 4:
                return body[1:4].hex()
    return None


def h264_preferences(camera_profile_level_id: str | None) -> list[RTCRtpCodecCapability]:
    """The codecs to answer with: aiortc's H.264 entry of the camera's profile (Constrained
    Baseline when the camera's is unknown or not one aiortc lists), then RTX for resending
    lost packets. Never VP8: that would need re-encoding."""
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    h264 = [codec for codec in capabilities if codec.mimeType.lower() == "video/h264"]
    wanted = _profile(camera_profile_level_id) or _profile(DEFAULT_PROFILE_LEVEL_ID)
    chosen = [codec for codec in h264 if _profile(codec.parameters["profile-level-id"]) == wanted]
    if not chosen:
        fallback = _profile(DEFAULT_PROFILE_LEVEL_ID)
        chosen = [c for c in h264 if _profile(c.parameters["profile-level-id"]) == fallback]
    rtx = [codec for codec in capabilities if codec.mimeType.lower() == "video/rtx"]
    return chosen[:1] + rtx


def _profile(value: object) -> object | None:
    try:
        return parse_h264_profile_level_id(str(value))[0]
    except ValueError:
        return None
