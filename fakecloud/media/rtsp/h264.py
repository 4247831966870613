"""H.264 access units to RTP payloads (RFC 6184, packetization-mode 1), by aiortc's packetiser.

aiortc (a kept WebRTC library) splits an Annex-B access unit into single NAL unit packets,
STAP-A aggregates of small units (SPS, PPS) and FU-A fragments of large ones, each payload at
most 1300 bytes so it fits any path MTU. We hand it the camera's bytes unchanged: no re-encode.
"""

from __future__ import annotations

from fractions import Fraction

import av
from aiortc.codecs.h264 import H264Encoder

_RTP_CLOCK = Fraction(1, 90_000)


class H264Payloader:
    def __init__(self) -> None:
        # pack() uses no encoder state (the codec is opened only to encode raw pictures).
        self._packer = H264Encoder()

    def payloads(self, access_unit: bytes) -> list[bytes]:
        packet = av.Packet(access_unit)
        packet.pts = 0  # aiortc reads it only to compute a timestamp we do not use
        packet.time_base = _RTP_CLOCK
        payloads, _ = self._packer.pack(packet)
        return payloads
