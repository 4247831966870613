"""H.264 access units to RTP payloads (RFC 6184, packetization-mode 1), by aiortc's packetiser.

aiortc (a kept WebRTC library) splits an Annex-B access unit into single NAL unit packets,
STAP-A aggregates of small units (SPS, PPS) and FU-A fragments of large ones, each payload at
most 1300 bytes so it fits any path MTU. We hand it the camera's bytes unchanged: no re-encode.
"""

from __future__ import annotations

from fractions import Fraction

import av
from aiortc.codecs.h264 import H264Encoder

from fakecloud.media.depacketizer import nal_header, split_annexb

_RTP_CLOCK = Fraction(1, 90_000)


class H264RtpError(ValueError):
    """An access unit without a single NAL unit to send."""


class H264Payloader:
    def __init__(self) -> None:
        # pack() uses no encoder state (the codec is opened only to encode raw pictures).
        self._packer = H264Encoder()

    def payloads(self, access_unit: bytes) -> list[bytes]:
        # Camera bytes come from the network: aiortc fails on an empty NAL unit (two start codes
        # in a row), so only units with a header go to it.
        units = [unit for unit in split_annexb(access_unit) if nal_header(unit) is not None]
        if not units:
            raise H264RtpError("no NAL unit in the access unit")
        packet = av.Packet(b"".join(units))
        packet.pts = 0  # aiortc reads it only to compute a timestamp we do not use
        packet.time_base = _RTP_CLOCK
        payloads, _ = self._packer.pack(packet)
        return payloads
