"""The SDP answer to DESCRIBE (RFC 4566): one video track, H.264 (RFC 6184) or JPEG (RFC 2435)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from fakecloud.media.depacketizer import NAL_PPS, NAL_SPS, nal_header, split_annexb
from fakecloud.media.frames import Codec

H264_PAYLOAD_TYPE = 96  # dynamic (RFC 3551 §3)
JPEG_PAYLOAD_TYPE = 26  # static JPEG/90000 (RFC 3551 §6)
TRACK = "trackID=0"  # the one track's control URL, relative to Content-Base


class SdpError(ValueError):
    """The camera's keyframe lacks what the description needs (SPS and PPS)."""


@dataclass(frozen=True, slots=True)
class Track:
    codec: Codec
    sps: bytes = b""  # H.264 parameter sets without start codes
    pps: bytes = b""

    @property
    def payload_type(self) -> int:
        return H264_PAYLOAD_TYPE if self.codec == "h264" else JPEG_PAYLOAD_TYPE


def track_of(codec: Codec, keyframe: bytes) -> Track:
    """The track of a camera whose latest keyframe (Annex-B, or a JPEG picture) is given."""
    if codec == "jpeg":
        return Track("jpeg")
    found: dict[int, bytes] = {}
    for unit in split_annexb(keyframe):
        header = nal_header(unit)
        if header is not None and header[0] in (NAL_SPS, NAL_PPS):
            found.setdefault(header[0], unit[unit.find(b"\x00\x00\x01") + 3 :])
    if NAL_SPS not in found or NAL_PPS not in found or len(found[NAL_SPS]) < 4:
        raise SdpError("the camera's keyframe carries no SPS and PPS")
    return Track("h264", found[NAL_SPS], found[NAL_PPS])


def build_sdp(track: Track, session_id: int, server_address: str, title: str) -> str:
    family = "IP6" if ":" in server_address else "IP4"
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN {family} {server_address}",
        f"s={title}",
        f"c=IN {family} {'::' if family == 'IP6' else '0.0.0.0'}",
        "t=0 0",
        "a=control:*",
        "a=range:npt=now-",
        f"m=video 0 RTP/AVP {track.payload_type}",
    ]
    if track.codec == "h264":
        sets = ",".join(base64.b64encode(unit).decode() for unit in (track.sps, track.pps))
        lines += [
            f"a=rtpmap:{track.payload_type} H264/90000",
            # profile_idc, constraint flags and level_idc: SPS bytes 1-3 (RFC 6184 §8.1).
            f"a=fmtp:{track.payload_type} packetization-mode=1;"
            f"profile-level-id={track.sps[1:4].hex()};sprop-parameter-sets={sets}",
        ]
    else:
        lines.append(f"a=rtpmap:{track.payload_type} JPEG/90000")
    lines.append(f"a=control:{TRACK}")
    return "\r\n".join(lines) + "\r\n"
